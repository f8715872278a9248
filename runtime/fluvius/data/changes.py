"""A view's change log (`fluvius_view_change`): the changes its projector made to its rows, in
the order it made them, for the view's live subscribers.

The projector appends a batch's changes in the transaction that makes them, which holds the
view's lease: one writer at a time, so a view's positions run 1, 2, 3... without a gap and
commit in order, and a reader that has read up to a position never sees one below it appear.
The last KEPT changes of each view are kept; a reader resuming from before the oldest of them
has missed some (`ChangeLog.expired`). A view folded again from the start (a new definition)
restarts its log: its rows are all new, so every earlier position expires, and positions go on
from the restart's, which the checkpoint table keeps (`view-changes:<view>`). On PostgreSQL an
append NOTIFYs the log's channel when its transaction commits, waking the readers of every
instance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json
from sqlalchemy import delete, func, select, text

from fluvius.data.reader import Checkpoint, Checkpoints

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.data.tables import RuntimeTables

KEPT = 100_000  # changes kept per view
PRUNE_EVERY = 1_000  # changes appended between two prunings
_COLUMNS = 'tenant_id, row_key, event, "row", deleted'
# the last position: the last change's, or the last restart's
_LAST = (
    "{greatest}(coalesce((SELECT max(position) FROM {table} "
    "WHERE view = CAST(:view AS VARCHAR)), 0), "
    "coalesce((SELECT position FROM {checkpoints} WHERE name = :restart), 0))"
)
_APPEND_POSTGRES = (
    "WITH appended AS (INSERT INTO {table} (view, position, "
    + _COLUMNS
    + ") SELECT CAST(:view AS VARCHAR), {last} + c.n, "
    + _COLUMNS
    + " FROM jsonb_to_recordset(CAST(:changes AS jsonb)) AS c(n bigint, tenant_id text, "
    'row_key text, event jsonb, "row" jsonb, deleted boolean) RETURNING position) '
    "SELECT max(position), pg_notify(:channel, '') FROM appended"
)
_APPEND_SQLITE = (
    "INSERT INTO {table} (view, position, "
    + _COLUMNS
    + ") SELECT CAST(:view AS VARCHAR), {last} + json_extract(value, '$.n'), "
    "json_extract(value, '$.tenant_id'), "
    "json_extract(value, '$.row_key'), json_extract(value, '$.event'), "
    "json_extract(value, '$.row'), json_extract(value, '$.deleted') FROM json_each(:changes)"
)


@dataclass(frozen=True)
class ViewChange:
    """One change of a row: the event that made it (as live messages carry it), and the row
    after it as a GET replies it, or the row it deleted when `deleted`."""

    position: int
    tenant: str | None
    key: str
    event: dict[str, Any]
    row: dict[str, Any]
    deleted: bool = False

    @property
    def state(self) -> dict[str, Any] | None:
        """The row after the change (None: there is none)."""
        return None if self.deleted else self.row


class ChangeLog:
    """The changes of one view, `view` (`domain.view`), in the service's `tables`."""

    def __init__(self, tables: RuntimeTables, view: str) -> None:
        self.table = tables.view_changes
        self.checkpoints = Checkpoints(tables.checkpoints)
        self.view = view
        self.restart_name = f"view-changes:{view}"

    @property
    def channel(self) -> str:
        """The PostgreSQL NOTIFY channel of appends (a name within PostgreSQL's 63 bytes)."""
        return f"fluvius_view_{hashlib.sha256(self.view.encode()).hexdigest()[:24]}"

    async def append(self, connection: AsyncConnection, changes: list[ViewChange]) -> None:
        """Append `changes` (their positions are ignored; their rows may hold the python values
        of the view's fields), in order, in the transaction of `connection`, which must hold
        the view's lease. The changes travel as one JSON array, which the database unpacks and
        numbers after the last position: on PostgreSQL one statement, NOTIFY included."""
        if not changes:
            return
        rows = [
            {"n": n, "tenant_id": change.tenant, "row_key": change.key}
            | {"event": change.event, "row": change.row, "deleted": change.deleted}
            for n, change in enumerate(changes, start=1)
        ]
        parameters = {"changes": to_json(rows).decode(), "channel": self.channel}
        if connection.dialect.name == "postgresql":
            statement = _APPEND_POSTGRES.format(
                table=self.table.name, last=self._last_sql("greatest")
            )
            reached = int(await connection.scalar(text(statement), self._parameters(parameters)))
        else:
            statement = _APPEND_SQLITE.format(table=self.table.name, last=self._last_sql("max"))
            await connection.execute(text(statement), self._parameters(parameters))
            reached = await self.last(connection)
        if reached // PRUNE_EVERY > (reached - len(changes)) // PRUNE_EVERY:
            await connection.execute(
                self._mine(delete(self.table), self.table.c.position <= reached - KEPT)
            )

    async def restart(self, connection: AsyncConnection) -> None:
        """Forget the view's changes, in the transaction that empties its rows: resuming from
        any position so far is refused from now on, and positions go on after the last."""
        last = await self.last(connection)
        if not last:
            return  # no position was ever given out
        restarted = last + 1
        await self.checkpoints.save(connection, self.restart_name, Checkpoint(0, restarted))
        await connection.execute(self._mine(delete(self.table)))

    async def last(self, connection: AsyncConnection) -> int:
        """The position of the view's last change, or of its last restart (0 before either)."""
        greatest = "greatest" if connection.dialect.name == "postgresql" else "max"
        statement = text(f"SELECT {self._last_sql(greatest)}")
        return int(await connection.scalar(statement, self._parameters({})))

    async def expired(self, connection: AsyncConnection, after: int) -> bool:
        """Whether changes right after position `after` were pruned, or the log restarted
        since."""
        restarted = await self.checkpoints.load(connection, self.restart_name)
        if after < restarted.position:
            return True
        oldest = await connection.scalar(self._mine(select(func.min(self.table.c.position))))
        return oldest is not None and oldest > after + 1

    async def read(
        self,
        connection: AsyncConnection,
        after: int,
        limit: int,
        *,
        until: int | None = None,
        key: str | None = None,
    ) -> list[ViewChange]:
        """Up to `limit` changes after position `after` (up to `until`), in order; of the row
        `key` only, when given."""
        table = self.table
        query = self._mine(select(table), table.c.position > after)
        if until is not None:
            query = query.where(table.c.position <= until)
        if key is not None:
            query = query.where(table.c.row_key == key)
        rows = await connection.execute(query.order_by(table.c.position).limit(limit))
        return [
            ViewChange(row.position, row.tenant_id, row.row_key, row.event, row.row, row.deleted)
            for row in rows
        ]

    def _last_sql(self, greatest: str) -> str:
        """The last position (see `last`) as an SQL expression, `greatest` naming the
        dialect's function of the larger of two values."""
        return _LAST.format(
            greatest=greatest, table=self.table.name, checkpoints=self.checkpoints.table.name
        )

    def _parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"view": self.view, "restart": self.restart_name, **parameters}

    def _mine(self, statement: Any, *conditions: Any) -> Any:
        return statement.where(self.table.c.view == self.view, *conditions)
