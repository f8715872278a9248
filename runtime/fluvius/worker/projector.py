"""A view's projector: folds the events of the logs that feed the view into its rows.

Each round reads a domain's log past the view's checkpoint with the gap-safe reader and, in ONE
transaction, changes the rows and moves the checkpoint: an event takes effect exactly once,
whatever crashes or restarts. The transaction holds the view's lease: on PostgreSQL a
transaction-level advisory lock named after the view (an instance that cannot take it skips the
round; one that dies loses it with its connection), on SQLite the write lock of BEGIN IMMEDIATE.
The checkpoint is read inside that transaction, so two instances never fold the same events.
After each batch it reports the read lag of the events it read (`fluvius_read_lag_seconds`),
under the name of its checkpoint in that log (`view:<domain>.<view>:<log's domain>`).

A view whose definition changed (its fingerprint differs from the one recorded with its
checkpoints), or that is new, is emptied and folded again from the start of every log, while
the service keeps serving.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, func, select

from fluvius.application.views import TENANT_COLUMN, Identity, Rows, Step, View
from fluvius.data.changes import ChangeLog, ViewChange
from fluvius.data.driver import Database
from fluvius.data.keyed import Upsert, matching
from fluvius.data.projections import record_fingerprint, recorded_fingerprint
from fluvius.data.reader import Checkpoint, Checkpoints, LogReader
from fluvius.domain.messages import utc_text
from fluvius.domain.rules import EVENT_METADATA, with_metadata
from fluvius.observability.instruments import report_lag
from fluvius.worker.loops import Heartbeat, follow_logs

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.data.commits import CommitSignals
    from fluvius.service import Domain, Service
    from fluvius.settings import Settings

BATCH = 5000
REFOLD_LOGGED = dt.timedelta(minutes=1)
_TENANT = list(EVENT_METADATA).index("tenant")  # where a log row's tenant is among its metadata


def lock_key(view: View) -> int:
    """The PostgreSQL advisory lock of a view's projector (a signed 64-bit number)."""
    digest = hashlib.sha256(f"fluvius-view:{view.qualified_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Projector:
    """Keeps one view's rows equal to the fold of the events that feed it."""

    def __init__(
        self, service: Service, view: View, database: Database, *, batch: int = BATCH
    ) -> None:
        self.service = service
        self.view = view
        self.database = database
        self.batch = batch
        self.checkpoints = Checkpoints(service.tables.checkpoints)
        self.heartbeat = Heartbeat()
        self.upsert = Upsert(view.table, database.dialect)
        self.changes = ChangeLog(service.tables, view.qualified_name)
        self._events: dict[str, dict[tuple[str, str], tuple[str, int]]] = {}
        # when this process last emptied the view to fold it again: the changes that events
        # recorded over REFOLD_LOGGED before it make are left out of the change log (a rebuild
        # of the history runs at full speed; resuming from before it is refused anyway)
        self._restarted_at: dt.datetime | None = None

    async def run_once(self) -> int:
        """Fold what is past each checkpoint, a batch per domain; return how many events were
        read (0 when another instance holds the lease)."""
        read = 0
        for name in self.view.domains():
            read += await self._project(self.service.domain(name))
        return read

    async def run(
        self, stop: asyncio.Event, poll_s: float, *, commits: CommitSignals | None = None
    ) -> None:
        """Project until `stop` is set, polling every `poll_s` seconds when there is nothing new
        (and woken sooner by `commits`)."""
        channels = [self.service.domain(name).log.channel for name in self.view.domains()]
        await follow_logs(
            self.view.worker, self.run_once, channels, stop, poll_s, self.heartbeat, commits
        )

    async def catch_up(self, poll_s: float = 0.05) -> int:
        """Fold until the view includes every event recorded before the call; return how many
        events were read. (On PostgreSQL the gap-safe reader waits for every older transaction
        of the server to end, so a round may find nothing yet: it tries again after `poll_s`.)"""
        ends = {name: await self._end(self.service.domain(name)) for name in self.view.domains()}
        total = 0
        while True:
            read = await self.run_once()
            total += read
            if not read:
                async with self.database.write.connect() as connection:
                    reached = {
                        name: await self.checkpoints.load(connection, self.view.checkpoint(name))
                        for name in ends
                    }
                if all(reached[name] >= end for name, end in ends.items()):
                    return total
                await asyncio.sleep(poll_s)

    async def _end(self, domain: Domain) -> Checkpoint:
        """The checkpoint just after the last event of `domain`'s log, as it is now."""
        events = domain.log.events
        last = (
            select(events.c.transaction_id, events.c.position)
            .order_by(events.c.transaction_id.desc(), events.c.position.desc())
            .limit(1)
        )
        async with self.database.write.connect() as connection:
            row = (await connection.execute(last)).first()
        return Checkpoint(row.transaction_id, row.position) if row is not None else Checkpoint()

    async def rebuild(self) -> None:
        """Empty the view and forget its checkpoints: the next rounds fold it from the start."""
        async with self.database.write.begin() as connection:
            if await self._leased(connection):
                await self._reset(connection)

    async def differences(self) -> list[str]:
        """How the view's rows differ from the fold of the events up to its checkpoints (none
        when they are equal); under the lease, so that the projector does not move meanwhile."""
        async with self.database.write.begin() as connection:
            await self._leased(connection, wait=True)
            folded: Rows = {}
            for name in self.view.domains():
                domain = self.service.domain(name)
                until = await self.checkpoints.load(connection, self.view.checkpoint(name))
                after = Checkpoint()
                while after < until:
                    rows = await self._read(connection, domain, after)
                    rows = [row for row in rows if _checkpoint(row) <= until]
                    if not rows:
                        break
                    for step in self._steps(domain, rows):
                        self.view.fold(folded, step)
                    after = _checkpoint(rows[-1])
            found = (await connection.execute(select(self.view.table))).mappings().all()
        stored = {self._identity_of(row): dict(row) for row in found}
        expected = {identity: row for identity, row in folded.items() if row is not None}
        return [
            f"{identity[1]}: stored {_shown(stored.get(identity))}, "
            f"events make {_shown(expected.get(identity))}"
            for identity in sorted(set(stored) | set(expected), key=str)
            if stored.get(identity) != expected.get(identity)
        ]

    async def _project(self, domain: Domain) -> int:
        name = self.view.checkpoint(domain.name)
        async with self.database.write.begin() as connection:
            if not await self._leased(connection):
                return 0
            recorded = await recorded_fingerprint(
                connection, self.service.tables.projections, self.view.worker
            )
            if recorded != self.view.fingerprint:
                await self._reset(connection)
            after = await self.checkpoints.load(connection, name)
            rows = await self._read(connection, domain, after)
            if not rows:
                return 0
            await self._apply(connection, self._steps(domain, rows))
            reached = _checkpoint(rows[-1])
            await self.checkpoints.save(connection, name, reached)
        await self.view.progress.moved(domain.name, reached)
        report_lag(name, (row.recorded_at for row in rows))
        return len(rows)

    async def _read(
        self, connection: AsyncConnection, domain: Domain, after: Checkpoint
    ) -> Sequence[Any]:
        """The next log rows past `after` with the gap-safe reader, with only what a view's
        rules and its change log read of them: (transaction id, position, aggregate, event,
        version, schema version, data, then the metadata of EVENT_METADATA in its order). The
        data of an event the view ignores is left out: it costs no parsing."""
        events = domain.log.events
        query = LogReader(self.database.write, domain.log, domain.aggregates).query(
            after, self.batch
        )
        read = sorted({name for _aggregate, name in self._reads(domain)})
        narrowed = query.with_only_columns(
            events.c.transaction_id,
            events.c.position,
            events.c.aggregate,
            events.c.name,
            events.c.version,
            events.c.schema_version,
            case((events.c.name.in_(read), events.c.data)).label("data"),
            *_metadata_columns(events),
        )
        return (await connection.execute(narrowed)).all()

    def _steps(self, domain: Domain, rows: Sequence[Any]) -> list[Step]:
        """What each row the view reads does to it, in log order."""
        reads = self._reads(domain)
        steps = []
        restarted = self._restarted_at
        unlogged = restarted - REFOLD_LOGGED if restarted is not None else None
        for _transaction, _position, aggregate, name, version, schema, data, *metadata in rows:
            read = reads.get((aggregate, name))
            if read is None:
                continue
            event, current = read
            if schema != current:  # an older shape: through the aggregate's upcasters
                upcast = domain.aggregate(aggregate).load_event(name, schema, data)
                data = upcast.model_dump(mode="json")
            message = with_metadata(data, metadata)
            if (step := self.view.step(event, message, metadata[_TENANT])) is not None:
                if unlogged is None or message["@recorded_at"] >= unlogged:
                    step = step._replace(recorded=_recorded(name, version, data, message))
                steps.append(step)
        return steps

    def _reads(self, domain: Domain) -> dict[tuple[str, str], tuple[str, int]]:
        """The events of `domain` the view reads, by (aggregate, event): the rule's name of
        each (`domain.aggregate.event`) and its current schema version."""
        if domain.name not in self._events:
            reads = {}
            for event in self.view.rules:
                name, aggregate, event_name = event.split(".")
                if name == domain.name:
                    current = domain.aggregate(aggregate).events[event_name].event
                    reads[(aggregate, event_name)] = (event, current.schema_version)
            self._events[domain.name] = reads
        return self._events[domain.name]

    async def _leased(self, connection: AsyncConnection, *, wait: bool = False) -> bool:
        """Take the view's lease for the transaction of `connection`: False when another
        instance holds it, unless `wait`, which waits until it is free."""
        if connection.dialect.name != "postgresql":
            return True  # BEGIN IMMEDIATE already holds the database's write lock
        key = lock_key(self.view)
        if wait:
            await connection.execute(select(func.pg_advisory_xact_lock(key)))
            return True
        return bool(await connection.scalar(select(func.pg_try_advisory_xact_lock(key))))

    async def _reset(self, connection: AsyncConnection) -> None:
        await connection.execute(delete(self.view.table))
        checkpoints = self.service.tables.checkpoints
        names = [self.view.checkpoint(domain) for domain in self.view.domains()]
        await connection.execute(delete(checkpoints).where(checkpoints.c.name.in_(names)))
        await record_fingerprint(
            connection, self.service.tables.projections, self.view.worker, self.view.fingerprint
        )
        await self.changes.restart(connection)
        self._restarted_at = dt.datetime.now(dt.UTC)

    async def _apply(self, connection: AsyncConnection, steps: list[Step]) -> None:
        """Fold `steps` into the rows they change: one read of those rows, one write back."""
        if not steps:
            return
        rows: Rows = await self._load(connection, {step.identity for step in steps})
        changes = []
        for step in steps:
            before = rows.get(step.identity)
            self.view.fold(rows, step)
            if step.recorded is not None:
                changes.append(self._change(step, step.recorded, before, rows[step.identity]))
        await self.changes.append(connection, changes)
        gone = [identity for identity, row in rows.items() if row is None]
        if gone:
            await connection.execute(delete(self.view.table).where(self._matching(gone)))
        await self.upsert.write(connection, [row for row in rows.values() if row is not None])

    def _change(
        self,
        step: Step,
        recorded: Mapping[str, Any],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> ViewChange:
        """What `step` (whose event is `recorded`) did to its row, for the change log: the row
        after it, or the row it deleted."""
        tenant, key = step.identity
        row = after if after is not None else before or self.view.new_row(tenant, key)
        return ViewChange(
            position=0,
            tenant=step.message["@tenant"],
            key=str(key),
            event=dict(recorded),
            row={name: row.get(name) for name in self.view.types},
            deleted=after is None,
        )

    async def _load(self, connection: AsyncConnection, identities: set[Identity]) -> Rows:
        query = select(self.view.table).where(self._matching(identities))
        names = self.view.table.columns.keys()
        found = [dict(zip(names, row, strict=True)) for row in await connection.execute(query)]
        return {self._identity_of(row): row for row in found}

    def _identity_of(self, row: Any) -> Identity:
        tenant = row[TENANT_COLUMN] if self.view.tenancy else None
        return (tenant, row[self.view.key])

    def _matching(self, identities: Iterable[Identity]) -> ColumnElement[bool]:
        """The rows of `identities`: their keys, tenant by tenant with tenancy."""
        table = self.view.table
        tenant = table.c[TENANT_COLUMN] if self.view.tenancy else None
        return matching(table.c[self.view.key], tenant, identities, self.database.dialect)


def _recorded(name: str, version: int, data: Any, message: Mapping[str, Any]) -> dict[str, Any]:
    """An event the view reads as live messages carry it, from its log row."""
    return {
        "id": str(message["@event_id"]),
        "name": name,
        "aggregate_id": str(message["@aggregate_id"]),
        "version": version,
        "data": data,
        "recorded_at": utc_text(message["@recorded_at"]),
    }


def _checkpoint(row: Any) -> Checkpoint:
    """The checkpoint just after a log row."""
    return Checkpoint(row.transaction_id, row.position)


def _metadata_columns(events: Table) -> list[ColumnElement[Any]]:
    """The metadata of a log row that a view's rules may read, in EVENT_METADATA's order."""
    columns: dict[str, ColumnElement[Any]] = {
        "aggregate_id": events.c.aggregate_id,
        "event_id": events.c.event_id,
        "recorded_at": events.c.recorded_at,
        "user": events.c.metadata["user"].as_string(),
        "tenant": events.c.metadata["tenant"].as_string(),
    }
    return [columns[name].label(name) for name in EVENT_METADATA]


def _shown(row: dict[str, Any] | None) -> str:
    return "no row" if row is None else str({name: str(value) for name, value in row.items()})


class Projectors:
    """The projectors of a service's views, on a connection pool of their own (one connection a
    view: each round's transaction), so that a projector never waits behind the commands for a
    connection, nor they behind it."""

    def __init__(self, service: Service, settings: Settings) -> None:
        views = service.views()
        self.database: Database | None = None
        self.projectors: list[Projector] = []
        if not views:
            return
        self.database = Database(settings.database_url, pool_size=len(views))
        self.projectors = [Projector(service, view, self.database) for view in views]

    async def close(self) -> None:
        """Close the projectors' connections (once they have stopped)."""
        if self.database is not None:
            await self.database.dispose()
