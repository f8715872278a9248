"""The job table: each (worker, event or tick) job's status, attempts and outcome.

It makes a job run once (a job already done is skipped), lets `fluvius workers` count, and
without Redis it is the queue itself: jobs are claimed from it by a compare-and-set on status,
and a running job's `updated_at` is its lease, renewed while it runs.

One row of a stream's worker is no job: key `broker`, status `broker`, it keeps the stream's
broker errors (the last, when, and how many since its relay started), never claimed nor counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from fluvius.application.streams import STREAM_WORKER_PREFIX
from fluvius.ids import uuid7

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.data.tables import RuntimeTables


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    DEAD = "dead"
    BROKER = "broker"  # a stream's broker errors, not a job


DUE = (Status.QUEUED, Status.RETRYING)
BROKER_KEY = "broker"


@dataclass(frozen=True)
class Job:
    """One run of a worker: for one event (`event_id`), or one tick of its schedule."""

    worker: str
    key: str
    domain: str
    event_id: uuid.UUID | None = None
    scheduled_at: dt.datetime | None = None

    @classmethod
    def for_event(cls, worker: str, domain: str, event_id: uuid.UUID) -> Job:
        return cls(worker, str(event_id), domain, event_id=event_id)

    @classmethod
    def for_tick(cls, worker: str, domain: str, tick: dt.datetime) -> Job:
        return cls(worker, f"tick:{tick.isoformat()}", domain, scheduled_at=tick)

    @property
    def id(self) -> str:
        """The job's id on a queue: worker and key."""
        return f"{self.worker}:{self.key}"


@dataclass(frozen=True)
class Counts:
    """A worker's jobs, by outcome."""

    waiting: int = 0
    done: int = 0
    retrying: int = 0
    dead: int = 0


@dataclass(frozen=True)
class BrokerErrors:
    """A stream's broker errors: the last one, when, and how many since its relay started."""

    last: str
    at: dt.datetime
    count: int
    since: dt.datetime


class NotRequeueable(LookupError):
    """A dead letter that cannot be queued again: unknown, or queued again already."""


class JobStore:
    """The SQL of jobs and dead letters, within the caller's transaction."""

    def __init__(self, tables: RuntimeTables) -> None:
        self.jobs = tables.jobs
        self.dead_letters = tables.dead_letters

    async def enqueue(self, connection: AsyncConnection, jobs: Sequence[Job]) -> None:
        """Record `jobs` as queued; a job recorded before stays as it is."""
        if not jobs:
            return
        now = _now()
        rows = [
            {
                "worker": job.worker,
                "job_key": job.key,
                "domain": job.domain,
                "event_id": job.event_id,
                "scheduled_at": job.scheduled_at,
                "status": Status.QUEUED.value,
                "attempts": 0,
                "available_at": now,
                "updated_at": now,
            }
            for job in jobs
        ]
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        await connection.execute(dialect.insert(self.jobs).on_conflict_do_nothing(), rows)

    async def claim_due(
        self, connection: AsyncConnection, limit: int, *, worker: str | None = None
    ) -> list[tuple[Job, int]]:
        """Jobs due to run, each claimed for this process, with its attempt number: those of
        `worker`, or (None) of every worker but the streams, whose relays redeliver their own."""
        table = self.jobs
        whose = (
            table.c.worker == worker
            if worker is not None
            else table.c.worker.not_like(f"{STREAM_WORKER_PREFIX}%")
        )
        due = (
            select(table)
            .where(
                table.c.status.in_([s.value for s in DUE]), table.c.available_at <= _now(), whose
            )
            .order_by(table.c.available_at)
            .limit(limit)
            # On PostgreSQL, processes claiming at once take different jobs and never wait on
            # each other's rows (no deadlock); SQLite runs one writer at a time anyway.
            .with_for_update(skip_locked=True)
        )
        claimed = []
        for row in (await connection.execute(due)).mappings().all():
            attempt = row["attempts"] + 1
            if await self._move(connection, row, DUE, Status.RUNNING, attempts=attempt):
                claimed.append((_job(row), attempt))
        return claimed

    async def start(self, connection: AsyncConnection, job: Job, attempt: int) -> bool:
        """Mark a queue's job as running; False when it is done already (or dead)."""
        row = await self._row(connection, job)
        if row is None:
            await self.enqueue(connection, [job])
            row = await self._row(connection, job)
        assert row is not None
        if row["status"] in (Status.DONE, Status.DEAD):
            return False
        await self._set(connection, job, status=Status.RUNNING, attempts=attempt)
        return True

    async def succeed(self, connection: AsyncConnection, job: Job) -> None:
        await self._set(connection, job, status=Status.DONE, error=None)

    async def fail(
        self,
        connection: AsyncConnection,
        job: Job,
        attempt: int,
        error: str,
        retry_at: dt.datetime | None,
    ) -> uuid.UUID | None:
        """Record a failed attempt: to retry at `retry_at`, or (None) dead, with a dead letter."""
        if retry_at is not None:
            await self._set(
                connection, job, status=Status.RETRYING, error=error, available_at=retry_at
            )
            return None
        await self._set(connection, job, status=Status.DEAD, error=error)
        letter = uuid7()
        await connection.execute(
            insert(self.dead_letters),
            {
                "id": letter,
                "worker": job.worker,
                "job_key": job.key,
                "attempts": attempt,
                "error": error,
                "created_at": _now(),
            },
        )
        return letter

    async def renew(self, connection: AsyncConnection, held: Sequence[tuple[Job, int]]) -> None:
        """Renew the leases of running jobs, each as claimed for its attempt (a job claimed
        again elsewhere since is not this caller's to renew)."""
        table = self.jobs
        await connection.execute(
            update(table)
            .where(
                table.c.status == Status.RUNNING,
                or_(
                    *(
                        and_(
                            table.c.worker == job.worker,
                            table.c.job_key == job.key,
                            table.c.attempts == attempt,
                        )
                        for job, attempt in held
                    )
                ),
            )
            .values(updated_at=_now())
        )

    async def release_stale(self, connection: AsyncConnection, lease: dt.timedelta) -> int:
        """Running jobs whose lease was not renewed for `lease` (their process died, or lost
        the database) go back to the queue."""
        table = self.jobs
        stale = (
            select(table.c.worker, table.c.job_key)
            .where(table.c.status == Status.RUNNING, table.c.updated_at < _now() - lease)
            .with_for_update(skip_locked=True)  # rows being renewed or claimed are not stale
        )
        result = await connection.execute(
            update(table)
            .where(tuple_(table.c.worker, table.c.job_key).in_(stale))
            .values(status=Status.RETRYING, available_at=_now(), updated_at=_now())
        )
        return int(result.rowcount)

    async def requeue(self, connection: AsyncConnection, letter_id: uuid.UUID) -> Job:
        """Put a dead job back on the queue, with fresh attempts, once per dead letter."""
        letters = self.dead_letters
        letter = (
            (await connection.execute(select(letters).where(letters.c.id == letter_id)))
            .mappings()
            .first()
        )
        if letter is None:
            raise NotRequeueable(f"no dead letter {letter_id}")
        if letter["requeued_at"] is not None:
            when = f"{letter['requeued_at']:%Y-%m-%d %H:%M:%S}"
            raise NotRequeueable(f"dead letter {letter_id} was queued again at {when}")
        jobs = self.jobs
        row = (
            (
                await connection.execute(
                    select(jobs).where(
                        jobs.c.worker == letter["worker"],
                        jobs.c.job_key == letter["job_key"],
                        jobs.c.status == Status.DEAD,
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotRequeueable(f"the job of dead letter {letter_id} is no longer dead")
        job = _job(row)
        await self._set(
            connection, job, status=Status.QUEUED, attempts=0, error=None, available_at=_now()
        )
        await connection.execute(
            update(letters).where(letters.c.id == letter_id).values(requeued_at=_now())
        )
        return job

    async def counts(self, connection: AsyncConnection) -> dict[str, Counts]:
        """Every worker's jobs, by outcome."""
        table = self.jobs
        query = select(table.c.worker, table.c.status, func.count()).group_by(
            table.c.worker, table.c.status
        )
        by_worker: dict[str, dict[str, int]] = {}
        for worker, status, count in (await connection.execute(query)).all():
            by_worker.setdefault(worker, {})[status] = count
        return {
            worker: Counts(
                done=found.get(Status.DONE, 0),
                retrying=found.get(Status.RETRYING, 0),
                dead=found.get(Status.DEAD, 0),
                waiting=found.get(Status.QUEUED, 0) + found.get(Status.RUNNING, 0),
            )
            for worker, found in by_worker.items()
        }

    async def note_broker_error(
        self, connection: AsyncConnection, worker: str, domain: str, errors: BrokerErrors
    ) -> None:
        """Record `errors` as the broker errors of the stream whose worker is `worker`."""
        values = {
            "worker": worker,
            "job_key": BROKER_KEY,
            "domain": domain,
            "status": Status.BROKER.value,
            "attempts": errors.count,
            "error": errors.last,
            "scheduled_at": errors.since,
            "available_at": errors.at,
            "updated_at": errors.at,
        }
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(self.jobs).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[self.jobs.c.worker, self.jobs.c.job_key],
            set_={key: statement.excluded[key] for key in values if key != "worker"},
        )
        await connection.execute(statement)

    async def broker_errors(self, connection: AsyncConnection) -> dict[str, BrokerErrors]:
        """The broker errors of each stream that had some, by its worker."""
        table = self.jobs
        query = select(table).where(table.c.status == Status.BROKER.value)
        return {
            row["worker"]: BrokerErrors(
                row["error"], row["updated_at"], row["attempts"], row["scheduled_at"]
            )
            for row in (await connection.execute(query)).mappings().all()
        }

    async def dead(self, connection: AsyncConnection) -> list[dict[str, Any]]:
        """The dead letters not requeued yet, newest first."""
        letters = self.dead_letters
        query = (
            select(letters)
            .where(letters.c.requeued_at.is_(None))
            .order_by(letters.c.created_at.desc())
        )
        return [dict(row) for row in (await connection.execute(query)).mappings().all()]

    async def _row(self, connection: AsyncConnection, job: Job) -> dict[str, Any] | None:
        table = self.jobs
        query = select(table).where(table.c.worker == job.worker, table.c.job_key == job.key)
        row = (await connection.execute(query)).mappings().first()
        return dict(row) if row is not None else None

    async def _set(self, connection: AsyncConnection, job: Job, **values: Any) -> None:
        table = self.jobs
        await connection.execute(
            update(table)
            .where(table.c.worker == job.worker, table.c.job_key == job.key)
            .values(updated_at=_now(), **values)
        )

    async def _move(
        self,
        connection: AsyncConnection,
        row: Any,
        before: Sequence[Status],
        after: Status,
        **values: Any,
    ) -> bool:
        """Compare-and-set the job's status; True when this caller moved it."""
        table = self.jobs
        result = await connection.execute(
            update(table)
            .where(
                and_(
                    table.c.worker == row["worker"],
                    table.c.job_key == row["job_key"],
                    or_(*(table.c.status == status.value for status in before)),
                )
            )
            .values(status=after.value, updated_at=_now(), **values)
        )
        return bool(result.rowcount == 1)


def _job(row: Any) -> Job:
    return Job(row["worker"], row["job_key"], row["domain"], row["event_id"], row["scheduled_at"])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
