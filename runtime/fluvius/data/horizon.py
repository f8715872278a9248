"""A domain's log in plain position order, up to the settled horizon: for live feeds.

A live subscriber resumes from one integer, the last position it received, so the feed must
deliver positions in increasing order and never deliver a position after a higher one. On
PostgreSQL positions come from a sequence taken at insert time, so a lower position can commit
after a higher one is visible. The feed therefore only delivers up to a *settled horizon*: a
position below which every position is committed (and visible) or will never be.

Each appending transaction takes its log's appending lock, an advisory lock it shares with the
other appenders until it ends, before its positions (EventStore.write). A reading step reads the
sequence's last value M, then the transactions holding the lock (pg_locks): a transaction that
holds a position up to M took the lock before M was read, so then it had ended or is one of
them. Once none of them holds the lock any more (a later reading step tells), every position up
to M is settled; a position still missing then was rolled back. With no appender in flight, M is
settled at once. Advisory locks belong to one database and the key to one log, so only this
log's appenders hold the feed back: not a long transaction elsewhere on the server (a bulk load
in another database, CREATE DATABASE) nor one in this database that appends to no log. On
SQLite writers are serialised and positions commit in order: everything visible is settled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from fluvius.data.store import recorded_event
from fluvius.data.tables import APPENDING_LOCKS

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent

BATCH = 500
SETTLE_WAIT_S = 0.02
UNSETTLED_MARKS = 256  # beyond, intermediate marks are dropped: they would settle later anyway
# On PostgreSQL, run on asyncpg directly (the feed runs them at every wake-up): the position
# sequence's last value, and the transactions (virtual ids) holding a log's appending lock in
# this database.
_END = "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, $2))"
_APPENDERS = (
    "SELECT coalesce(array_agg(virtualtransaction), '{}') FROM pg_locks"
    " WHERE locktype = 'advisory' AND objsubid = 2 AND classid = $1::oid AND objid = $2::oid"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class SettledLog:
    """Reads one domain's log forward from a horizon, in position order, settled events only."""

    def __init__(
        self, engine: AsyncEngine, log: DomainLog, aggregates: Sequence[type[Aggregate[Any]]]
    ) -> None:
        self.engine = engine
        # on PostgreSQL each statement is a transaction of its own: no BEGIN, COMMIT or
        # ROLLBACK round trips, and each one sees what had committed when it ran
        self._reading = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.postgres else engine
        )
        self.log = log
        self.aggregates: Mapping[str, type[Aggregate[Any]]] = {a.name: a for a in aggregates}
        self.horizon = 0  # every event up to here has been read
        self._settled = 0  # every position up to here is settled
        # (the sequence's last value, the appenders holding the lock just after it was read)
        self._unsettled: list[tuple[int, frozenset[str]]] = []

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def waiting(self) -> bool:
        """Whether positions are known to be taken but not settled yet (read again soon)."""
        return bool(self._unsettled)

    async def start(self) -> int:
        """Place the horizon at the end of the log as it is now, once that end settles (later
        appenders do not delay it); return it."""
        end = await self._settle_now()
        while self._settled < end:
            await asyncio.sleep(SETTLE_WAIT_S)
            await self._settle_now()
        self.horizon = self._settled
        return self.horizon

    async def read(self, limit: int = BATCH) -> list[RecordedEvent[Event]]:
        """Up to `limit` settled events past the horizon, in position order; advance past them."""
        async with self._reading.connect() as connection:
            if self._settled <= self.horizon or not self.postgres:
                await self._settle(connection)
            if self._settled <= self.horizon:
                return []
            events = await read_range(
                connection, self.log, self.aggregates, self.horizon, self._settled, limit=limit
            )
        self.horizon = events[-1].position if len(events) == limit else self._settled
        return events

    def rewind(self, position: int) -> None:
        """Read again from after `position` (at or below the horizon)."""
        self.horizon = min(self.horizon, position)

    async def _settle_now(self) -> int:
        async with self._reading.connect() as connection:
            return await self._settle(connection)

    async def _settle(self, connection: AsyncConnection) -> int:
        """Advance the settled position as far as the appenders allow; return the log's end
        (the sequence's last value)."""
        table = self.log.events
        if not self.postgres:
            last = await connection.scalar(select(func.max(table.c.position)))
            self._settled = int(last or 0)
            return self._settled
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        end = int(await driver.fetchval(_END, table.name, table.c.position.name) or 0)
        lock = (APPENDING_LOCKS, self.log.appending_lock)
        appending = frozenset(await driver.fetchval(_APPENDERS, *lock))
        if self._unsettled and self._unsettled[-1][1] == appending:
            self._unsettled.pop()  # the same appenders settle the newer mark as soon
        elif len(self._unsettled) >= UNSETTLED_MARKS:
            del self._unsettled[-1]
        self._unsettled.append((end, appending))
        settled = [taken for taken, then in self._unsettled if not then & appending]
        if settled:
            self._settled = max(self._settled, *settled)
        self._unsettled = [
            (taken, then) for taken, then in self._unsettled if taken > self._settled
        ]
        return end


async def read_range(
    connection: AsyncConnection,
    log: DomainLog,
    aggregates: Mapping[str, type[Aggregate[Any]]],
    after: int,
    until: int,
    *,
    limit: int = BATCH,
    aggregate: str | None = None,
    aggregate_id: uuid.UUID | None = None,
) -> list[RecordedEvent[Event]]:
    """Up to `limit` events with a position in (after, until], in order; of one aggregate type
    or one aggregate when given."""
    table = log.events
    query = (
        select(table)
        .where(table.c.position > after, table.c.position <= until)
        .order_by(table.c.position)
        .limit(limit)
    )
    if aggregate is not None:
        query = query.where(table.c.aggregate == aggregate)
    if aggregate_id is not None:
        query = query.where(table.c.aggregate_id == aggregate_id)
    rows = (await connection.execute(query)).all()
    return [recorded_event(aggregates[row.aggregate], row) for row in rows]
