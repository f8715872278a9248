"""One attempt of one job: run the worker's function, then record the outcome.

A failure is retried with exponential backoff up to the worker's `retries`; after the last, the
job is dead and a dead letter keeps its error (or why the job could not run at all). Whatever
the queue (arq or the job table), this is where a job runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fluvius.application.workers import CronWorker, EventWorker
from fluvius.data.store import EventStore
from fluvius.observability.hooks import tracing
from fluvius.worker.context import WorkerContext
from fluvius.worker.jobs import Job, JobStore
from fluvius.worker.loops import cancelled

if TYPE_CHECKING:
    import uuid

    from fluvius.application.processor import CommandProcessor
    from fluvius.data.driver import Database
    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent
    from fluvius.media import MediaStore
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
        media: MediaStore | None = None,
    ) -> None:
        self.service = service
        self.media = media
        self.database = database
        self.processor = processor
        self.retry_base_s = retry_base_s
        self.timeout_s = timeout_s
        self.store = JobStore(service.tables)
        self.workers = {worker.name: (domain, worker) for domain, worker in service.workers()}

    async def run(self, job: Job, attempt: int) -> Outcome:
        """Run attempt number `attempt` of `job`, and record what happened.

        A job of a worker the service does not declare, and one past its worker's last attempt
        (the attempts before ended without an outcome: their process died, or could not record
        it), are dead at once. Whatever the worker's function raises is its failure, save the
        cancellation of this task.
        """
        declared = self.workers.get(job.worker)
        async with self.database.write.begin() as connection:
            if not await self.store.start(connection, job, attempt):
                return Outcome(skipped=True)
        if declared is None:
            reason = f"the worker {job.worker!r} is not declared by this service"
            return await self._dead(job, attempt, reason)
        domain, worker = declared
        if attempt > worker.retries + 1:
            return await self._dead(
                job,
                attempt,
                f"attempt {attempt} is past the last of {worker.retries + 1}: the attempts "
                "before ended without an outcome",
            )
        context = WorkerContext(
            self.processor, worker.name, attempt, scheduled_at=job.scheduled_at, media=self.media
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                if isinstance(worker, EventWorker):
                    assert job.event_id is not None
                    context.event = await self._event(domain.aggregates, domain.log, job.event_id)
                    with tracing().job(worker.name, context.event.metadata.traceparent):
                        await worker.handler(context.event, context)
                else:
                    assert isinstance(worker, CronWorker)
                    await worker.handler(context)
        except BaseException as error:
            if cancelled(error):
                raise
            return await self._failed(job, worker.retries, attempt, error)
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

    async def _failed(self, job: Job, retries: int, attempt: int, error: BaseException) -> Outcome:
        described = "".join(traceback.format_exception(error))[-MAX_ERROR_LENGTH:]
        retry_at = None
        if attempt <= retries:
            delay = min(self.retry_base_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
            retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(
                seconds=delay * random.uniform(1, 1.25)
            )
        logger.warning("%s failed (attempt %s): %r", job.id, attempt, error)
        return await self._record(job, attempt, described, retry_at)

    async def _dead(self, job: Job, attempt: int, reason: str) -> Outcome:
        logger.error("%s is dead (attempt %s): %s", job.id, attempt, reason)
        return await self._record(job, attempt, reason, None)

    async def _record(
        self, job: Job, attempt: int, error: str, retry_at: dt.datetime | None
    ) -> Outcome:
        async with self.database.write.begin() as connection:
            letter = await self.store.fail(connection, job, attempt, error, retry_at)
        return Outcome(retry_at=retry_at, dead_letter=letter)
