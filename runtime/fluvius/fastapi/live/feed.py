"""One reader of one domain's log per process, fanning its settled events out to subscriptions.

The feed reads the log up to the settled horizon (fluvius.data.horizon), in position order,
computes the row each event leaves behind once, and hands it to every subscription that wants it.
It wakes when a command commits to the log (`Database.commits`: on PostgreSQL a command of any
instance, on SQLite one of its own process), and polls the log besides: every POLL_S on SQLite (for
the commands of other processes), every IDLE_POLL_S on PostgreSQL in case a signal was lost, and
quickly while positions wait to settle. It reads at most once per READ_INTERVAL_S (but for a
backlog), so that under a stream of commands one read takes the events of several commits rather
than each commit costing a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from fluvius.data.horizon import BATCH, SettledLog, read_range
from fluvius.fastapi.live.protocol import event_body
from fluvius.fastapi.live.resources import event_json
from fluvius.fastapi.live.states import StateTracker

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent
    from fluvius.fastapi.live.subscriptions import Subscription

logger = logging.getLogger("fluvius.live")

POLL_S = 0.1
IDLE_POLL_S = 1.0
SETTLING_POLL_S = 0.01
READ_INTERVAL_S = 0.005  # between the starts of two reads, unless a full batch was read
FAILURE_PAUSE_S = 1.0


class DomainFeed:
    """The live reader of one domain's log, and the subscriptions it serves."""

    def __init__(
        self, engine: AsyncEngine, log: DomainLog, aggregates: Sequence[type[Aggregate[Any]]]
    ) -> None:
        self.engine = engine
        self.log = SettledLog(engine, log, aggregates)
        self.wake = asyncio.Event()
        # subscriptions to one aggregate by its id, the others apart: an event is offered to
        # its aggregate's subscriptions and the broad ones only
        self._by_id: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._broad: set[Subscription] = set()
        self._states = StateTracker(engine)
        self._task: asyncio.Task[None] | None = None

    @property
    def horizon(self) -> int:
        """Every event up to this position has been handed out."""
        return self.log.horizon

    async def start(self) -> None:
        """Begin at the current end of the log."""
        await self.log.start()
        self._task = asyncio.create_task(self._run(), name=f"live feed {self.log.log.domain}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscription in self.subscriptions():
            subscription.cancel()

    def add(self, subscription: Subscription, after: int | None) -> None:
        """Serve `subscription` from now on; first replay the log after `after`, if given."""
        self._group(subscription).add(subscription)
        if after is not None and after < self.horizon:
            subscription.held = []
            subscription.replay = asyncio.create_task(
                self._replay(subscription, after, self.horizon)
            )

    def remove(self, subscription: Subscription) -> None:
        group = self._group(subscription)
        group.discard(subscription)
        if not group and subscription.aggregate_id is not None:
            del self._by_id[subscription.aggregate_id]
        subscription.cancel()

    def subscriptions(self) -> list[Subscription]:
        """Every subscription the feed serves."""
        return [*self._broad, *(s for group in self._by_id.values() for s in group)]

    def _group(self, subscription: Subscription) -> set[Subscription]:
        if subscription.aggregate_id is None:
            return self._broad
        return self._by_id[subscription.aggregate_id]

    async def _run(self) -> None:
        clock = asyncio.get_running_loop().time
        while True:
            started = clock()
            try:
                events = await self.log.read()
                if events:
                    await self._fan_out(events)
                if len(events) == BATCH:
                    continue  # more are waiting
            except Exception:
                logger.exception("the live feed of %s failed; retrying", self.log.log.domain)
                await asyncio.sleep(FAILURE_PAUSE_S)
            await self._sleep()
            if (left := started + READ_INTERVAL_S - clock()) > 0:
                await asyncio.sleep(left)  # while commits stream in, each read takes several

    async def _sleep(self) -> None:
        if self.log.waiting:
            pause = SETTLING_POLL_S
        else:
            pause = IDLE_POLL_S if self.log.postgres else POLL_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), pause)
        self.wake.clear()

    async def _fan_out(self, events: Sequence[RecordedEvent[Event]]) -> None:
        """Offer each event to its subscriptions; when one fails, the next read starts again
        from it (subscriptions drop what they already had)."""
        for event in events:
            try:
                await self._offer(event)
            except Exception:
                self.log.rewind(event.position - 1)
                raise

    async def _offer(self, event: RecordedEvent[Event]) -> None:
        candidates = [*self._broad, *self._by_id.get(event.aggregate_id, ())]
        interested = [s for s in candidates if s.resource.concerns(event)]
        if not interested:
            return
        resource = interested[0].resource
        row = await resource.row_after(self._states, event)
        body = event_body(event.position, event_json(event), resource.json_row(row))
        for subscription in interested:
            if subscription.wants(event, row):
                subscription.deliver(event.position, body)

    async def _replay(self, subscription: Subscription, after: int, until: int) -> None:
        """Hand `subscription` the events in (after, until], then the live ones held meanwhile;
        when the log cannot be read, have the subscriber close and resume."""
        try:
            await self._replay_range(subscription, after, until)
        except Exception:
            logger.exception("replaying the log of %s failed", self.log.log.domain)
            subscription.sink.overflowed.set()
            return
        subscription.release()

    async def _replay_range(self, subscription: Subscription, after: int, until: int) -> None:
        states = StateTracker(self.engine)
        resource = subscription.resource
        position = after
        while True:
            async with self.engine.connect() as connection:
                events = await read_range(
                    connection,
                    self.log.log,
                    self.log.aggregates,
                    position,
                    until,
                    aggregate_id=subscription.aggregate_id,
                )
            for event in events:
                if not resource.concerns(event):
                    continue
                row = await resource.row_after(states, event)
                if subscription.wants(event, row):
                    body = event_body(event.position, event_json(event), resource.json_row(row))
                    await subscription.sink.queue.put(subscription.render(event.position, body))
            if len(events) < BATCH:
                return
            position = events[-1].position
