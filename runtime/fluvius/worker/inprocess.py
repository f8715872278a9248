"""Workers inside the API process (no Redis): the relay, the cron scheduler, a runner that
takes due jobs from the job table (the same jobs, retries and dead letters as on arq) and the
relay of each stream that has a URL set, and the projector of each view.

Each runs as a loop that outlives its errors; `problem` tells `/readyz` when one has stopped
all the same, or stalled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from fluvius.media import open_store
from fluvius.streams import relay as stream_relays  # a module: the streams import the workers too
from fluvius.worker.execution import Executor
from fluvius.worker.jobs import JobStore
from fluvius.worker.projector import Projectors
from fluvius.worker.queues import DatabaseQueue
from fluvius.worker.relay import Relay
from fluvius.worker.runner import LEASE_S, JobRunner
from fluvius.worker.scheduler import Scheduler

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from fluvius.application.processor import CommandProcessor
    from fluvius.data.driver import Database
    from fluvius.service import Service
    from fluvius.settings import Settings
    from fluvius.worker.loops import Heartbeat

logger = logging.getLogger("fluvius.worker")
STALL_POLLS = 60  # a loop this many poll intervals overdue has stalled


class InProcessWorkers:
    """Runs a service's workers as tasks of the current event loop."""

    def __init__(
        self,
        service: Service,
        database: Database,
        processor: CommandProcessor,
        settings: Settings,
        *,
        lease_s: float = LEASE_S,
    ) -> None:
        self.settings = settings
        self.commits = database.commits
        queue = DatabaseQueue(database, service.tables)
        self.relay = Relay(service, database, queue)
        self.scheduler = Scheduler(service, queue)
        self.streams = stream_relays.StreamRelays(service, settings)
        self.projectors = Projectors(service, settings)
        self.executor = Executor(
            service,
            database,
            processor,
            retry_base_s=settings.worker_retry_base_s,
            timeout_s=settings.worker_timeout_s,
            media=open_store(settings.media_url),
        )
        self.runner = JobRunner(
            self.executor,
            database,
            JobStore(service.tables),
            concurrency=settings.worker_concurrency,
            poll_s=settings.worker_poll_s,
            lease_s=lease_s,
        )
        self.stall_s = STALL_POLLS * settings.worker_poll_s
        self._stop = asyncio.Event()
        self._loops: list[tuple[str, asyncio.Task[None], Heartbeat]] = []

    async def start(self) -> None:
        self._stop.clear()
        poll, commits = self.settings.worker_poll_s, self.commits
        loops: list[tuple[str, Coroutine[None, None, None], Heartbeat]] = [
            ("relay", self.relay.run(self._stop, poll, commits=commits), self.relay.heartbeat),
            ("executor", self.runner.run(self._stop), self.runner.heartbeat),
        ]
        for stream in self.streams.relays:
            run = stream.run(self._stop, poll, commits=commits)
            loops.append((stream.stream.worker, run, stream.heartbeat))
        for projector in self.projectors.projectors:
            worker = projector.view.worker
            run = projector.run(self._stop, poll, commits=commits)
            loops.append((worker, run, projector.heartbeat))
        if self.scheduler.workers:
            loops.append(
                ("scheduler", self.scheduler.run(self._stop, poll), self.scheduler.heartbeat)
            )
        self._loops = []
        for name, loop, heartbeat in loops:
            task = asyncio.create_task(loop, name=f"fluvius-{name}")
            task.add_done_callback(self._ended)
            self._loops.append((name, task, heartbeat))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*(task for _, task, _ in self._loops), return_exceptions=True)
        self._loops = []
        await self.streams.close()
        await self.projectors.close()

    def problem(self) -> str | None:
        """Why the workers are not ready (a loop that stopped, or is `stall_s` overdue), or None."""
        for name, task, heartbeat in self._loops:
            if task.done():
                return f"the {name} has stopped"
            if heartbeat.overdue_s > self.stall_s:
                return f"the {name} has stalled: {heartbeat.overdue_s:.0f}s overdue"
        return None

    def _ended(self, task: asyncio.Task[None]) -> None:
        if self._stop.is_set():
            return
        error = None if task.cancelled() else task.exception()
        logger.error("%s stopped before the workers did", task.get_name(), exc_info=error)
