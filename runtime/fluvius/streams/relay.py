"""A stream's relay: reads each of its domains' logs past the stream's checkpoint with the
gap-safe reader, publishes the events the stream carries, then moves the checkpoint.

Delivery is at least once: the checkpoint moves only after the broker confirmed the batch, so
a relay that dies in between publishes the batch again (each message's id is its event id, for
brokers and consumers to drop the copy). Each aggregate's events go out in version order: the
reader's order (by transaction id) can put a later version first on PostgreSQL, so a batch
brings forward the earlier versions of its aggregates that the reader has not reached yet,
and goes out sorted by log position; those go out again when the reader reaches them.

One relay per stream publishes at a time: on PostgreSQL each round runs under a
transaction-level advisory lock named after the stream, and an instance that cannot take it
skips the round; on SQLite run one instance (two relays could each publish a batch before
either saves the checkpoint: duplicates, never a gap). No write transaction stays open while a
broker is waited on, so a broker that is down never holds up the commands.

Each batch a broker refused or did not confirm, and each event a webhook gave up on, is a
broker error: counted (`fluvius_stream_errors_total`) and recorded, the last with when and how
many since the relay started, for `fluvius workers` to show.

Events a webhook gave up on become dead jobs of the stream's worker (`stream:<name>`) with a
dead letter; `fluvius workers retry` queues one again and the relay delivers it next round.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from fluvius.data.driver import Database
from fluvius.data.reader import Checkpoint, Checkpoints, LogReader
from fluvius.data.store import EventStore
from fluvius.observability.instruments import report_broker_error, report_lag
from fluvius.settings import PREFIX
from fluvius.streams.envelope import Message, message
from fluvius.streams.publishers import Failure, Publisher, Target, publisher_for
from fluvius.worker.jobs import BrokerErrors, Job, JobStore
from fluvius.worker.loops import Heartbeat, follow_logs

if TYPE_CHECKING:
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.application.streams import Stream
    from fluvius.data.commits import CommitSignals
    from fluvius.domain.messages import Event, RecordedEvent
    from fluvius.service import Domain, Service
    from fluvius.settings import Settings

logger = logging.getLogger("fluvius.streams")
BATCH = 5000


def checkpoint_name(stream: str, domain: str) -> str:
    """The checkpoint name of a stream's reading of a domain's log."""
    return f"stream:{stream}:{domain}"


def lock_key(stream: str) -> int:
    """The PostgreSQL advisory lock of a stream's relay (a signed 64-bit number)."""
    digest = hashlib.sha256(f"fluvius-stream:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class StreamRelay:
    """Publishes one stream's events, past its checkpoints, with one publisher."""

    def __init__(
        self,
        service: Service,
        stream: Stream,
        database: Database,
        publisher: Publisher,
        *,
        batch: int = BATCH,
    ) -> None:
        self.service = service
        self.stream = stream
        self.database = database
        self.publisher = publisher
        self.batch = batch
        self.checkpoints = Checkpoints(service.tables.checkpoints)
        self.jobs = JobStore(service.tables)
        self.domains = [service.domain(name) for name in stream.domains()]
        self.heartbeat = Heartbeat()
        self.started = dt.datetime.now(dt.UTC)
        self.errors = 0

    async def run_once(self) -> int:
        """Publish what is past each checkpoint (and dead letters queued again); return how
        many events were read. A publisher that failed is closed, to connect afresh next time."""
        try:
            read = 0
            for domain in self.domains:
                read += await self._relay(domain)
            return read + await self._redeliver()
        except BaseException:
            await self.publisher.close()
            raise

    async def run(
        self, stop: asyncio.Event, poll_s: float, *, commits: CommitSignals | None = None
    ) -> None:
        """Relay until `stop` is set, polling every `poll_s` seconds when there is nothing new
        (and woken sooner by `commits`); a broker that is down makes the rounds fail and back
        off, then catch up."""
        channels = [domain.log.channel for domain in self.domains]
        try:
            await follow_logs(
                self.stream.worker, self.run_once, channels, stop, poll_s, self.heartbeat, commits
            )
        finally:
            await self.publisher.close()

    async def _relay(self, domain: Domain) -> int:
        name = checkpoint_name(self.stream.name, domain.name)
        reader = LogReader(self.database.write, domain.log, domain.aggregates)
        async with self._lease() as connection:
            if connection is None:
                return 0
            after = await self.checkpoints.load(connection, name)
            events = await reader.read(after, self.batch, connection=connection)
            if not events:
                return 0
            carried = [e for e in events if self.stream.carries(domain.name, e)]
            carried += [
                e
                for e in await reader.earlier(carried, connection=connection)
                if self.stream.carries(domain.name, e)
            ]
            carried.sort(key=lambda event: event.position)  # each aggregate's versions in order
            messages = [self._message(domain, event) for event in carried]
            failures = await self._publish(messages) if messages else []
            async with self._writing(connection) as writing:
                await self._bury(writing, domain, failures)
                await self.checkpoints.save(writing, name, Checkpoint.of(events[-1]))
        report_lag(name, (event.recorded_at for event in events))
        return len(events)

    async def _redeliver(self) -> int:
        """Publish the stream's dead letters that `fluvius workers retry` queued again."""
        async with self._lease() as leased:
            if leased is None:
                return 0
            async with self.database.write.begin() as connection:
                claimed = await self.jobs.claim_due(
                    connection, self.batch, worker=self.stream.worker
                )
            for job, attempt in claimed:
                domain = self.service.domain(job.domain)
                assert job.event_id is not None
                async with self.database.write.connect() as connection:
                    event = await EventStore(connection, domain.log).event(
                        domain.aggregates, job.event_id
                    )
                failures = await self._publish([self._message(domain, event)]) if event else []
                async with self.database.write.begin() as connection:
                    if failures:
                        await self.jobs.fail(connection, job, attempt, failures[0].error, None)
                    else:
                        await self.jobs.succeed(connection, job)
        return len(claimed)

    async def _publish(self, messages: list[Message]) -> list[Failure]:
        """Publish `messages`, recording a broker error when the broker fails the batch (then
        it raises) and for each event a webhook gave up on."""
        try:
            failures = await self.publisher.publish(messages)
        except Exception as error:
            await self._broker_error(f"{type(error).__name__}: {error}", 1)
            raise
        if failures:
            await self._broker_error(failures[-1].error, len(failures))
        return failures

    async def _broker_error(self, error: str, count: int) -> None:
        """Count `count` broker errors, and record them with `error` as the last."""
        self.errors += count
        report_broker_error(self.stream.name, count)
        errors = BrokerErrors(error, dt.datetime.now(dt.UTC), self.errors, self.started)
        try:
            async with self.database.write.begin() as connection:
                await self.jobs.note_broker_error(
                    connection, self.stream.worker, self.domains[0].name, errors
                )
        except Exception:  # the database is down too: the round fails all the same
            logger.exception("%s could not record its broker's error", self.stream.worker)

    @asynccontextmanager
    async def _lease(self) -> AsyncIterator[AsyncConnection | None]:
        """A connection to read the log on while the block holds the stream's lease; None when
        another relay holds it.

        On PostgreSQL the lease is a transaction-level advisory lock, taken in the transaction
        the round reads in and saves its checkpoint in at the end (until then it writes
        nothing): a relay that dies loses it with its connection. SQLite has no lease, and the
        round reads on a read connection.
        """
        if self.database.dialect != "postgresql":
            async with self.database.read.connect() as connection:
                yield connection
            return
        async with self.database.write.begin() as connection:
            key = lock_key(self.stream.name)
            leased = bool(await connection.scalar(select(func.pg_try_advisory_xact_lock(key))))
            yield connection if leased else None

    @asynccontextmanager
    async def _writing(self, leased: AsyncConnection) -> AsyncIterator[AsyncConnection]:
        """Where the round records what it did: in the lease's transaction on PostgreSQL, in a
        write transaction of its own on SQLite."""
        if self.database.dialect == "postgresql":
            yield leased
            return
        async with self.database.write.begin() as connection:
            yield connection

    async def _bury(
        self, connection: AsyncConnection, domain: Domain, failures: list[Failure]
    ) -> None:
        """Record each event given up on as a dead job of the stream, with a dead letter."""
        for failure in failures:
            job = Job.for_event(self.stream.worker, domain.name, uuid.UUID(failure.message.id))
            logger.error("%s gave up on event %s: %s", self.stream.worker, job.key, failure.error)
            await self.jobs.enqueue(connection, [job])
            await self.jobs.fail(connection, job, 1, failure.error, None)

    def _message(self, domain: Domain, event: RecordedEvent[Event]) -> Message:
        return message(self.service.name, domain.name, event, tenancy=self.service.tenancy)


def stream_url(settings: Settings, stream: Stream) -> str | None:
    """Where `stream` goes (its FLUVIUS_STREAM_<NAME>_URL), or None: then it does not run."""
    return settings.extra.get(PREFIX + stream.setting) or None


class StreamRelays:
    """The relays of a service's streams that have a URL, on a connection pool of their own
    (two connections a stream: its round's, which holds the lease, and one for the dead letters
    it delivers again under that lease), so that a relay never waits behind the commands for a
    connection, nor they behind it."""

    def __init__(self, service: Service, settings: Settings) -> None:
        streams = [(s, url) for s in service.streams if (url := stream_url(settings, s))]
        self.database: Database | None = None
        self.relays: list[StreamRelay] = []
        if not streams:
            return
        self.database = Database(settings.database_url, pool_size=2 * len(streams))
        for stream, url in streams:
            publisher = publisher_for(url, _target(service, stream, settings))
            self.relays.append(StreamRelay(service, stream, self.database, publisher))

    async def close(self) -> None:
        """Close the relays' connections (once they have stopped)."""
        if self.database is not None:
            await self.database.dispose()


def _target(service: Service, stream: Stream, settings: Settings) -> Target:
    return Target(
        service.name,
        stream.name,
        secret=settings.extra.get(f"{PREFIX}STREAM_{stream.name.upper()}_SECRET"),
        retry_base_s=settings.worker_retry_base_s,
    )
