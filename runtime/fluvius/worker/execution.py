"""One attempt of one job: run the worker's function, then record the outcome.

A failure is retried with exponential backoff up to the worker's `retries`; after the last, the
job is dead and a dead letter keeps its error. Whatever the queue (arq or the job table), this is
where a job runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fluvius.data.store import EventStore
from fluvius.worker.context import WorkerContext
from fluvius.worker.declarations import CronWorker, EventWorker
from fluvius.worker.jobs import Job, JobStore

if TYPE_CHECKING:
    import uuid

    from fluvius.data.driver import Database
    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent
    from fluvius.domain.processor import CommandProcessor
    from fluvius.service import Service

logger = logging.getLogger("fluvius.worker")
MAX_BACKOFF_S = 300.0
MAX_ERROR_LENGTH = 4000


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to: done, skipped (done before), retry at a time, or dead."""

    done: bool = False
    skipped: bool = False
    retry_at: dt.datetime | None = None
    dead_letter: uuid.UUID | None = None


class Executor:
    """Runs the jobs of a service's workers."""

    def __init__(
        self,
        service: Service,
        database: Database,
        processor: CommandProcessor,
        *,
        retry_base_s: float = 1.0,
        timeout_s: float = 300.0,
    ) -> None:
        self.service = service
        self.database = database
        self.processor = processor
        self.retry_base_s = retry_base_s
        self.timeout_s = timeout_s
        self.store = JobStore(service.tables)
        self.workers = {worker.name: (domain, worker) for domain, worker in service.workers()}

    async def run(self, job: Job, attempt: int) -> Outcome:
        """Run attempt number `attempt` of `job`, and record what happened."""
        domain, worker = self.workers[job.worker]
        async with self.database.write.begin() as connection:
            if not await self.store.start(connection, job, attempt):
                return Outcome(skipped=True)
        context = WorkerContext(self.processor, worker.name, attempt, scheduled_at=job.scheduled_at)
        try:
            async with asyncio.timeout(self.timeout_s):
                if isinstance(worker, EventWorker):
                    assert job.event_id is not None
                    context.event = await self._event(domain.aggregates, domain.log, job.event_id)
                    await worker.handler(context.event, context)
                else:
                    assert isinstance(worker, CronWorker)
                    await worker.handler(context)
        except Exception as error:
            return await self._failed(job, worker, attempt, error)
        async with self.database.write.begin() as connection:
            await self.store.succeed(connection, job)
        return Outcome(done=True)

    async def _event(
        self, aggregates: tuple[type[Aggregate[Any]], ...], log: DomainLog, event_id: uuid.UUID
    ) -> RecordedEvent[Event]:
        async with self.database.read.connect() as connection:
            event = await EventStore(connection, log).event(aggregates, event_id)
        if event is None:
            raise LookupError(f"event {event_id} is not in the {log.domain} log")
        return event

    async def _failed(
        self, job: Job, worker: EventWorker | CronWorker, attempt: int, error: Exception
    ) -> Outcome:
        described = "".join(traceback.format_exception(error))[-MAX_ERROR_LENGTH:]
        retry_at = None
        if attempt <= worker.retries:
            delay = min(self.retry_base_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
            retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(
                seconds=delay * random.uniform(1, 1.25)
            )
        logger.warning("%s failed (attempt %s): %s", job.id, attempt, error)
        async with self.database.write.begin() as connection:
            letter = await self.store.fail(connection, job, attempt, described, retry_at)
        return Outcome(retry_at=retry_at, dead_letter=letter)
