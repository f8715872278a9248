"""Workers inside the API process (no Redis): the relay, the cron scheduler and an executor
that takes due jobs from the job table; the same jobs, retries and dead letters as on arq."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from fluvius.worker.execution import Executor
from fluvius.worker.jobs import JobStore
from fluvius.worker.queues import DatabaseQueue
from fluvius.worker.relay import Relay, _wait
from fluvius.worker.scheduler import Scheduler

if TYPE_CHECKING:
    from fluvius.data.driver import Database
    from fluvius.domain.processor import CommandProcessor
    from fluvius.service import Service
    from fluvius.settings import Settings

logger = logging.getLogger("fluvius.worker")


class InProcessWorkers:
    """Runs a service's workers as tasks of the current event loop."""

    def __init__(
        self, service: Service, database: Database, processor: CommandProcessor, settings: Settings
    ) -> None:
        self.settings = settings
        self.database = database
        self.store = JobStore(service.tables)
        self.relay = Relay(service, database, DatabaseQueue(database, service.tables))
        self.scheduler = Scheduler(service, database)
        self.executor = Executor(
            service,
            database,
            processor,
            retry_base_s=settings.worker_retry_base_s,
            timeout_s=settings.worker_timeout_s,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._stop.clear()
        poll = self.settings.worker_poll_s
        self._tasks = [
            asyncio.create_task(self.relay.run(self._stop, poll), name="fluvius-relay"),
            asyncio.create_task(self.scheduler.run(self._stop), name="fluvius-scheduler"),
            asyncio.create_task(self._execute(), name="fluvius-executor"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _execute(self) -> None:
        lease = dt.timedelta(seconds=self.settings.worker_timeout_s + 10)
        while not self._stop.is_set():
            try:
                async with self.database.write.begin() as connection:
                    await self.store.release_stale(connection, lease)
                    claimed = await self.store.claim_due(
                        connection, self.settings.worker_concurrency
                    )
            except Exception:
                logger.exception("claiming jobs failed; trying again")
                claimed = []
            if not claimed:
                await _wait(self._stop, self.settings.worker_poll_s)
                continue
            await asyncio.gather(*(self.executor.run(job, attempt) for job, attempt in claimed))
