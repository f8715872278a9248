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
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, bindparam, func, select

from fluvius.data.driver import asyncpg_of, direct_statement
from fluvius.data.store import recorded_event
from fluvius.data.tables import APPENDING_LOCKS

if TYPE_CHECKING:
    from sqlalchemy import Select, Table
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent

BATCH = 500
SETTLE_WAIT_S = 0.02
NOTHING_KNOWN: Mapping[int, Any] = {}
UNSETTLED_MARKS = 256  # beyond, intermediate marks are dropped: they would settle later anyway
# On PostgreSQL, run on asyncpg directly at every read: in one statement, the position
# sequence's last value, then (a subquery that needs that value, so runs after it) the
# transactions (virtual ids) holding the log's appending lock in this database.
_SETTLING = (
    "SELECT taken.last, (SELECT coalesce(array_agg(virtualtransaction), '{}') FROM pg_locks"
    " WHERE taken.last >= 0 AND locktype = 'advisory' AND objsubid = 2"
    " AND classid = $3::oid AND objid = $4::oid"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
    " FROM (SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, $2)), 0) AS last"
    " OFFSET 0) AS taken"
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

    async def read(
        self,
        limit: int = BATCH,
        *,
        known: Mapping[int, RecordedEvent[Event]] = NOTHING_KNOWN,
    ) -> list[RecordedEvent[Event]]:
        """Up to `limit` settled events past the horizon, in position order; advance past them.
        An event `known` by its position (committed) is taken from there, not decoded from its
        row."""
        async with self._reading.connect() as connection:
            if self._settled <= self.horizon or not self.postgres:
                await self._settle(connection)
            if self._settled <= self.horizon:
                return []
            bounds = {"after": self.horizon, "until": self._settled, "limit": limit}
            if self.postgres:  # compiled once, on asyncpg: a feed reads at every wake-up
                driver = await asyncpg_of(connection)
                statement = direct_statement(_range(self.log.events), RANGE, connection.dialect)
                rows: Sequence[Mapping[str, Any]] = await statement.fetch(
                    driver, bounds, connection.sync_engine.logger
                )
            else:
                rows = (await connection.execute(_range(self.log.events), bounds)).mappings().all()
        events = [
            known.get(row["position"]) or recorded_event(self.aggregates[row["aggregate"]], row)
            for row in rows
        ]
        self.horizon = events[-1].position if len(events) == limit else self._settled
        return events

    def advance(self, position: int) -> None:
        """Move the horizon to `position`, past events read elsewhere: every position up to
        it is known to be committed, so settled."""
        self.horizon = position
        self._settled = max(self._settled, position)
        self._unsettled = [(taken, then) for taken, then in self._unsettled if taken > position]

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
        driver = await asyncpg_of(connection)
        lock = (APPENDING_LOCKS, self.log.appending_lock)
        taken, appenders = await driver.fetchrow(
            _SETTLING, table.name, table.c.position.name, *lock
        )
        end = int(taken)
        appending = frozenset(appenders)
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


RANGE = ("after", "limit", "until")  # the parameters of `_range`


@lru_cache(maxsize=256)
def _range(events: Table, *, one_aggregate: bool = False) -> Select[Any]:
    """The events with a position in (after, until], in order, at most `limit`; with
    `one_aggregate`, of the aggregate `aggregate_id` only."""
    query = (
        select(events)
        .where(events.c.position > bindparam("after"), events.c.position <= bindparam("until"))
        .order_by(events.c.position)
        .limit(bindparam("limit", type_=Integer))
    )
    if one_aggregate:
        query = query.where(events.c.aggregate_id == bindparam("aggregate_id"))
    return query


async def read_range(
    connection: AsyncConnection,
    log: DomainLog,
    aggregates: Mapping[str, type[Aggregate[Any]]],
    after: int,
    until: int,
    *,
    limit: int = BATCH,
    aggregate_id: uuid.UUID | None = None,
) -> list[RecordedEvent[Event]]:
    """Up to `limit` events with a position in (after, until], in order; of one aggregate when
    given."""
    bounds: dict[str, Any] = {"after": after, "until": until, "limit": limit}
    if aggregate_id is not None:
        bounds["aggregate_id"] = aggregate_id
    query = _range(log.events, one_aggregate=aggregate_id is not None)
    rows = (await connection.execute(query, bounds)).all()
    return [recorded_event(aggregates[row.aggregate], row) for row in rows]
