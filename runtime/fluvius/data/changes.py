"""A view's change log (`fluvius_view_change`): the changes its projector made to its rows, in
the order it made them, for the view's live subscribers.

The projector appends a batch's changes in the transaction that makes them, which holds the
view's lease: one writer at a time, so a view's positions run 1, 2, 3... without a gap and
commit in order, and a reader that has read up to a position never sees one below it appear.
The last KEPT changes of each view are kept; a reader resuming from before the oldest of them
has missed some (`ChangeLog.expired`). On PostgreSQL an append NOTIFYs the log's channel when
its transaction commits, waking the readers of every instance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection

KEPT = 100_000  # changes kept per view
PRUNE_EVERY = 1_000  # changes appended between two prunings


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
    """The changes of one view, `view` (`domain.view`), in `table` (`view_change_table`)."""

    def __init__(self, table: Table, view: str) -> None:
        self.table = table
        self.view = view

    @property
    def channel(self) -> str:
        """The PostgreSQL NOTIFY channel of appends (a name within PostgreSQL's 63 bytes)."""
        return f"fluvius_view_{hashlib.sha256(self.view.encode()).hexdigest()[:24]}"

    async def append(self, connection: AsyncConnection, changes: list[ViewChange]) -> None:
        """Append `changes` (their positions are ignored), in order, in the transaction of
        `connection`, which must hold the view's lease."""
        if not changes:
            return
        last = await self.last(connection)
        rows = [
            {"view": self.view, "position": last + n, "tenant_id": change.tenant}
            | {"row_key": change.key, "event": change.event, "row": change.row}
            | {"deleted": change.deleted}
            for n, change in enumerate(changes, start=1)
        ]
        await connection.execute(insert(self.table), rows)
        reached = last + len(changes)
        if reached // PRUNE_EVERY > last // PRUNE_EVERY:
            await connection.execute(
                self._mine(delete(self.table), self.table.c.position <= reached - KEPT)
            )
        if connection.dialect.name == "postgresql":
            await connection.execute(select(func.pg_notify(self.channel, "")))

    async def last(self, connection: AsyncConnection) -> int:
        """The position of the view's last change (0 before the first)."""
        query = self._mine(select(func.max(self.table.c.position)))
        return int(await connection.scalar(query) or 0)

    async def expired(self, connection: AsyncConnection, after: int) -> bool:
        """Whether changes right after position `after` were pruned."""
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

    def _mine(self, statement: Any, *conditions: Any) -> Any:
        return statement.where(self.table.c.view == self.view, *conditions)
