"""arq worker processes (`fluvius run worker`): the same jobs, on Redis.

Each process runs the relay too (their job ids keep a job from being queued twice) and arq's
cron, which starts each tick once across every process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from arq import Retry, cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob

from fluvius.data.driver import Database
from fluvius.domain.processor import CommandProcessor
from fluvius.service import Service
from fluvius.settings import Settings
from fluvius.worker.declarations import CronWorker
from fluvius.worker.execution import Executor, Outcome
from fluvius.worker.jobs import Job
from fluvius.worker.queues import EVENT_JOB, ArqQueue
from fluvius.worker.relay import Relay

MAX_TRIES = 100  # retries are counted by fluvius, per worker; arq must not stop first


class WorkerProcess:
    """What a worker process holds: the database, the executor and its relay task."""

    def __init__(self, service: Service, settings: Settings, redis: Any) -> None:
        self.database = Database.from_settings(settings, replica=False)
        processor = CommandProcessor(self.database)
        self.executor = Executor(
            service,
            self.database,
            processor,
            retry_base_s=settings.worker_retry_base_s,
            timeout_s=settings.worker_timeout_s,
        )
        self.relay = Relay(service, self.database, ArqQueue(self.database, service.tables, redis))
        self.poll_s = settings.worker_poll_s
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._relay_task = asyncio.create_task(self.relay.run(self._stop, self.poll_s))

    async def stop(self) -> None:
        self._stop.set()
        if self._relay_task is not None:
            await self._relay_task
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
        ctx: dict[Any, Any], worker: str, key: str, domain: str, event_id: str | None
    ) -> None:
        job = Job(worker, key, domain, uuid.UUID(event_id) if event_id else None)
        _retry_if_due(await ctx["fluvius"].executor.run(job, ctx["job_try"]))

    cron_jobs = [
        _cron_job(domain.name, worker)
        for domain, worker in service.workers()
        if isinstance(worker, CronWorker)
    ]
    attributes = {
        "functions": [func(event_job, name=EVENT_JOB, max_tries=MAX_TRIES)],
        "cron_jobs": cron_jobs,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "job_timeout": settings.worker_timeout_s,
        "max_jobs": settings.worker_concurrency,
        "max_tries": MAX_TRIES,
        "keep_result": 24 * 3600,
    }
    return type("WorkerSettings", (), attributes)


def _cron_job(domain: str, worker: CronWorker) -> CronJob:
    async def tick(ctx: dict[Any, Any]) -> None:
        moment = ctx.get("enqueue_time") or dt.datetime.now(dt.UTC)
        scheduled = moment.astimezone(dt.UTC).replace(second=0, microsecond=0)
        job = Job.for_tick(worker.name, domain, scheduled)
        _retry_if_due(await ctx["fluvius"].executor.run(job, ctx["job_try"]))

    schedule = worker.schedule
    return cron(
        tick,
        name=f"cron:{worker.name}",
        minute=set(schedule.minute),
        hour=set(schedule.hour),
        day=set(schedule.day),
        month=set(schedule.month),
        weekday=set(schedule.weekday),
        unique=True,
        max_tries=MAX_TRIES,
    )


def _retry_if_due(outcome: Outcome) -> None:
    """Hand a failed attempt that has retries left back to arq, to run after its backoff."""
    if outcome.retry_at is not None:
        delay = max((outcome.retry_at - dt.datetime.now(dt.UTC)).total_seconds(), 0)
        raise Retry(defer=dt.timedelta(seconds=delay))
