"""The live reader of one view: its change log, in order, fanned out to its subscriptions.

Each change carries the event that made it and the row after it, as the view's projector wrote
them (fluvius.data.changes): the feed only reads. It wakes when the projector of this process
moves, or when one of any instance appends (on PostgreSQL), and polls besides. A deletion is
offered with the row it deleted, so that it reaches exactly the subscribers who could read that
row; its message's state is null.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fluvius.data.horizon import BATCH
from fluvius.fastapi.live.feed import Feed
from fluvius.fastapi.live.protocol import LiveError, event_body

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from fluvius.application.views import View
    from fluvius.data.changes import ChangeLog, ViewChange
    from fluvius.fastapi.live.subscriptions import Subscription


class ViewFeed(Feed):
    """The live reader of one view's change log."""

    def __init__(self, engine: AsyncEngine, view: View, changes: ChangeLog) -> None:
        super().__init__(view.qualified_name, postgres=engine.dialect.name == "postgresql")
        self.engine = engine
        self.view = view
        self.changes = changes
        self._horizon = 0
        view.progress.wake_on_move(self.wake)

    @property
    def horizon(self) -> int:
        return self._horizon

    async def check_resume(self, after: int) -> None:
        async with self.engine.connect() as connection:
            expired = await self.changes.expired(connection, after)
        if expired:
            raise LiveError(
                HTTPStatus.GONE,
                "resume-expired",
                f"changes of {self.name} after position {after} are no longer kept: read the "
                "rows again, then subscribe without after",
            )

    async def _begin(self) -> None:
        async with self.engine.connect() as connection:
            self._horizon = await self.changes.last(connection)

    async def _read(self) -> int:
        async with self.engine.connect() as connection:
            changes = await self.changes.read(connection, self._horizon, BATCH)
        for change in changes:
            self._offer(change)
            self._horizon = change.position
        return len(changes)

    def _offer(self, change: ViewChange) -> None:
        interested = self.candidates(change.key)
        if not interested:
            return
        row, body = self._change(change)
        for subscription in interested:
            if subscription.wants(row, change.tenant):
                subscription.deliver(change.position, body)

    async def _replay_range(self, subscription: Subscription, after: int, until: int) -> None:
        key = subscription.key if isinstance(subscription.key, str) else None
        while True:
            async with self.engine.connect() as connection:
                changes = await self.changes.read(connection, after, BATCH, until=until, key=key)
            for change in changes:
                row, body = self._change(change)
                if subscription.wants(row, change.tenant):
                    message = subscription.render(change.position, body)
                    await subscription.sink.queue.put(message)
            if len(changes) < BATCH:
                return
            after = changes[-1].position

    def _change(self, change: ViewChange) -> tuple[dict[str, Any], str]:
        """The row a change concerns (python values: the one it deleted, for a deletion), and
        the body of its messages."""
        return typed_row(self.view, change), event_body(change.position, change.event, change.state)


def typed_row(view: View, change: ViewChange) -> dict[str, Any]:
    """The row a change concerns (the one it deleted, for a deletion), in python values: as
    authorization and filters read rows."""
    return {name: view.cast(name, value) for name, value in change.row.items()}
