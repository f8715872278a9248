"""arq worker processes (`fluvius run worker`): the same jobs, on Redis.

Each process runs the relay and the cron scheduler too (their job ids keep a job, or a tick,
from being queued twice), and the streams' relays (a lease lets one process publish each stream
at a time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from contextlib import AsyncExitStack
from typing import Any

from arq import Retry, func
from arq.connections import RedisSettings

from fluvius.application.processor import CommandProcessor
from fluvius.data.driver import Database
from fluvius.media import open_store
from fluvius.service import Service
from fluvius.settings import Settings
from fluvius.streams import relay as stream_relays  # a module: the streams import the workers too
from fluvius.worker.execution import Executor, Outcome
from fluvius.worker.jobs import Job
from fluvius.worker.projector import Projectors
from fluvius.worker.queues import EVENT_JOB, ArqQueue
from fluvius.worker.relay import Relay
from fluvius.worker.scheduler import Scheduler

MAX_TRIES = 100  # retries are counted by fluvius, per worker; arq must not stop first


class WorkerProcess:
    """What a worker process holds: the database, the services, the executor, its relay and
    scheduler tasks."""

    def __init__(self, service: Service, settings: Settings, redis: Any) -> None:
        self.database = Database.from_settings(settings, replica=False)
        if settings.tracing:
            from fluvius.observability.tracing import trace_process

            trace_process(self.database, service.name)
        self.processor = CommandProcessor(self.database)
        self.services = service.build_services(settings)  # entered at start, closed at stop
        self._open = AsyncExitStack()
        self.executor = Executor(
            service,
            self.database,
            self.processor,
            retry_base_s=settings.worker_retry_base_s,
            timeout_s=settings.worker_timeout_s,
            media=open_store(settings.media_url),
        )
        queue = ArqQueue(self.database, service.tables, redis)
        self.relay = Relay(service, self.database, queue)
        self.scheduler = Scheduler(service, queue)
        self.streams = stream_relays.StreamRelays(service, settings)
        self.projectors = Projectors(service, settings)
        self.poll_s = settings.worker_poll_s
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.processor.services = await self._open.enter_async_context(self.services)
        poll, commits = self.poll_s, self.database.commits
        loops = [
            self.relay.run(self._stop, poll, commits=commits),
            self.scheduler.run(self._stop, poll),
        ]
        loops += [stream.run(self._stop, poll, commits=commits) for stream in self.streams.relays]
        loops += [p.run(self._stop, poll, commits=commits) for p in self.projectors.projectors]
        self._tasks = [asyncio.create_task(loop) for loop in loops]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self.streams.close()
        await self.projectors.close()
        await self._open.aclose()
        await self.database.dispose()


def worker_settings(service: Service, settings: Settings) -> type:
    """The arq `WorkerSettings` of a service's workers."""
    if settings.redis_url is None:
        raise ValueError("arq workers need FLUVIUS_REDIS_URL")

    async def startup(ctx: dict[Any, Any]) -> None:
        process = WorkerProcess(service, settings, ctx["redis"])
        await process.start()
        ctx["fluvius"] = process

    async def shutdown(ctx: dict[Any, Any]) -> None:
        await ctx["fluvius"].stop()

    async def event_job(
        ctx: dict[Any, Any],
        worker: str,
        key: str,
        domain: str,
        event_id: str | None,
        tick: str | None = None,
    ) -> None:
        job = Job(
            worker,
            key,
            domain,
            uuid.UUID(event_id) if event_id else None,
            dt.datetime.fromisoformat(tick) if tick else None,
        )
        _retry_if_due(await ctx["fluvius"].executor.run(job, ctx["job_try"]))

    attributes = {
        "functions": [func(event_job, name=EVENT_JOB, max_tries=MAX_TRIES)],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "job_timeout": settings.worker_timeout_s,
        "max_jobs": settings.worker_concurrency,
        "max_tries": MAX_TRIES,
        "keep_result": 24 * 3600,
    }
    return type("WorkerSettings", (), attributes)


def _retry_if_due(outcome: Outcome) -> None:
    """Hand a failed attempt that has retries left back to arq, to run after its backoff."""
    if outcome.retry_at is not None:
        delay = max((outcome.retry_at - dt.datetime.now(dt.UTC)).total_seconds(), 0)
        raise Retry(defer=dt.timedelta(seconds=delay))
