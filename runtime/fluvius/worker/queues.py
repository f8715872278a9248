"""Where jobs wait: in the job table (the embedded default) or on Redis for arq workers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from fluvius.data.reader import Checkpoint, Checkpoints
from fluvius.ids import uuid7
from fluvius.worker.jobs import Job, JobStore

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from fluvius.data.driver import Database
    from fluvius.data.tables import RuntimeTables

EVENT_JOB = "fluvius.event"  # the arq function that runs every job: an event's, or a tick's


class JobQueue(Protocol):
    """Takes jobs: from the relay, together with the checkpoint they bring it to, and from the
    scheduler (ticks, without one)."""

    async def enqueue(
        self, jobs: Sequence[Job], checkpoint: tuple[str, Checkpoint] | None = None
    ) -> None: ...

    async def requeue(self, job: Job) -> None: ...


class DatabaseQueue:
    """Jobs wait in the job table; they and the relay's checkpoint commit together."""

    def __init__(self, database: Database, tables: RuntimeTables) -> None:
        self.database = database
        self.store = JobStore(tables)
        self.checkpoints = Checkpoints(tables.checkpoints)

    async def enqueue(
        self, jobs: Sequence[Job], checkpoint: tuple[str, Checkpoint] | None = None
    ) -> None:
        async with self.database.write.begin() as connection:
            await self.store.enqueue(connection, jobs)
            if checkpoint is not None:
                await self.checkpoints.save(connection, *checkpoint)

    async def requeue(self, job: Job) -> None:
        """The job table already holds the job as queued: the executor will take it."""


class ArqQueue:
    """Jobs wait on Redis for arq workers; the job id (worker and event) is never queued twice.

    The checkpoint advances only once the jobs are on Redis, so a relay that stops in between
    queues them again, which the job ids make harmless.
    """

    def __init__(self, database: Database, tables: RuntimeTables, redis: ArqRedis) -> None:
        self.database = database
        self.redis = redis
        self.store = JobStore(tables)
        self.checkpoints = Checkpoints(tables.checkpoints)

    async def enqueue(
        self, jobs: Sequence[Job], checkpoint: tuple[str, Checkpoint] | None = None
    ) -> None:
        for job in jobs:
            await self._send(job, job.id)
        async with self.database.write.begin() as connection:
            await self.store.enqueue(connection, jobs)
            if checkpoint is not None:
                await self.checkpoints.save(connection, *checkpoint)

    async def requeue(self, job: Job) -> None:
        await self._send(job, f"{job.id}:retry:{uuid7()}")

    async def _send(self, job: Job, job_id: str) -> None:
        event_id = str(job.event_id) if job.event_id is not None else None
        tick = job.scheduled_at.isoformat() if job.scheduled_at is not None else None
        await self.redis.enqueue_job(
            EVENT_JOB, job.worker, job.key, job.domain, event_id, tick, _job_id=job_id
        )
