"""Reading a domain's event log in order, past a checkpoint, without ever skipping a late commit.

On PostgreSQL, positions come from a sequence and are taken at insert time, so a transaction can
commit an event at a lower position after another transaction's higher one became visible. The
reader therefore orders the log by (transaction id, position) and only reads rows whose
transaction id is below the oldest transaction still running (`pg_snapshot_xmin`): every such
transaction has ended, so no row can appear behind the checkpoint later. On SQLite writers are
serialised, so positions commit in order and the transaction id is always 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Select,
    Text,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite

from fluvius.data.keyed import among
from fluvius.data.store import recorded_event

if TYPE_CHECKING:
    from sqlalchemy import Row, Table
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent

DEFAULT_BATCH = 500


@dataclass(frozen=True, order=True)
class Checkpoint:
    """A place in a log: everything at or before (transaction_id, position) has been read."""

    transaction_id: int = 0
    position: int = 0

    @classmethod
    def of(cls, event: RecordedEvent[Any]) -> Checkpoint:
        """The checkpoint just after `event`."""
        return cls(event.transaction_id, event.position)


class LogReader:
    """Reads one domain's events in commit-safe order."""

    def __init__(
        self, engine: AsyncEngine, log: DomainLog, aggregates: Sequence[type[Aggregate[Any]]]
    ) -> None:
        self.engine = engine
        self.log = log
        self.aggregates: Mapping[str, type[Aggregate[Any]]] = {a.name: a for a in aggregates}

    def query(self, after: Checkpoint, limit: int = DEFAULT_BATCH) -> Select[Any]:
        """The statement of `read`: up to `limit` log rows after `after`, in reading order
        (a caller may narrow its columns with `with_only_columns`)."""
        events = self.log.events
        order = tuple_(events.c.transaction_id, events.c.position)
        query = (
            select(events)
            .where(order > tuple_(literal(after.transaction_id), literal(after.position)))
            .order_by(events.c.transaction_id, events.c.position)
            .limit(limit)
        )
        if self.engine.dialect.name == "postgresql":
            oldest_running = func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text)
            query = query.where(events.c.transaction_id < oldest_running.cast(BigInteger))
        return query

    async def read(
        self,
        after: Checkpoint,
        limit: int = DEFAULT_BATCH,
        *,
        connection: AsyncConnection | None = None,
    ) -> list[RecordedEvent[Event]]:
        """Up to `limit` events after `after`, oldest first (on `connection`, when given)."""
        rows = await self._rows(self.query(after, limit), connection)
        return [recorded_event(self.aggregates[row.aggregate], row) for row in rows]

    async def earlier(
        self,
        events: Sequence[RecordedEvent[Event]],
        *,
        connection: AsyncConnection | None = None,
    ) -> list[RecordedEvent[Event]]:
        """The events that precede `events` on their aggregates but come after the last of
        them in reading order (on PostgreSQL a transaction can take its id before it waits for
        an aggregate, and commit its later version under a lower id). A later version commits
        only after the earlier ones, so these are committed; for a reader that owes its
        consumers each aggregate's order. Read on `connection`, when given."""
        if not events:
            return []
        last = Checkpoint.of(events[-1])
        ends: dict[Any, int] = {}
        for event in events:
            ends[event.aggregate_id] = max(ends.get(event.aggregate_id, 0), event.position)
        table = self.log.events
        order = tuple_(table.c.transaction_id, table.c.position)
        query = (
            select(table)
            .where(
                among(table.c.aggregate_id, list(ends), self.engine.dialect.name),
                table.c.position < max(ends.values()),
                order > tuple_(literal(last.transaction_id), literal(last.position)),
            )
            .order_by(table.c.position)
        )
        return [
            recorded_event(self.aggregates[row.aggregate], row)
            for row in await self._rows(query, connection)
            if row.position < ends[row.aggregate_id]
        ]

    async def _rows(
        self, query: Select[Any], connection: AsyncConnection | None
    ) -> Sequence[Row[Any]]:
        rows: Sequence[Row[Any]]
        if connection is not None:
            rows = (await connection.execute(query)).all()
            return rows
        async with self.engine.connect() as fresh:
            rows = (await fresh.execute(query)).all()
        return rows


class Checkpoints:
    """Where each named reader of a log has got to."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def load(self, connection: AsyncConnection, name: str) -> Checkpoint:
        """The saved checkpoint of `name`, or the start of the log."""
        query = select(self.table.c.transaction_id, self.table.c.position).where(
            self.table.c.name == name
        )
        row = (await connection.execute(query)).first()
        return Checkpoint(row.transaction_id, row.position) if row is not None else Checkpoint()

    async def save(self, connection: AsyncConnection, name: str, checkpoint: Checkpoint) -> None:
        """Record that `name` has read up to `checkpoint`."""
        values = {
            "name": name,
            "transaction_id": checkpoint.transaction_id,
            "position": checkpoint.position,
            "updated_at": dt.datetime.now(dt.UTC),
        }
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(self.table).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[self.table.c.name],
            set_={key: statement.excluded[key] for key in values if key != "name"},
        )
        await connection.execute(statement)
