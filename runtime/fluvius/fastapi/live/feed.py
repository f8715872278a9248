"""The readers behind live subscriptions: one per source, fanning what it reads out to them.

A feed reads its source in position order and hands each item to the subscriptions that want
it: `DomainFeed` one domain's log up to the settled horizon (fluvius.data.horizon), computing
the row each event leaves behind once; `ViewFeed` (fluvius.fastapi.live.view_feed) a view's
change log. A feed wakes when its source is written to (`Database.commits`: on PostgreSQL a
write of any instance, on SQLite one of its own process), and polls besides: every POLL_S on
SQLite (for the writes of other processes), every IDLE_POLL_S on PostgreSQL in case a signal
was lost, and quickly while positions wait to settle. It reads at most once per
READ_INTERVAL_S (but for a backlog), so that under a stream of writes one read takes several.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, cast

from fluvius.data.horizon import BATCH, SettledLog, read_range
from fluvius.fastapi.live.protocol import event_body
from fluvius.fastapi.live.states import StateTracker

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncEngine

    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent, State
    from fluvius.fastapi.live.subscriptions import Subscription

logger = logging.getLogger("fluvius.live")

POLL_S = 0.1
IDLE_POLL_S = 1.0
SETTLING_POLL_S = 0.01
READ_INTERVAL_S = 0.01  # between the starts of two reads, unless a full batch was read
FAILURE_PAUSE_S = 1.0
WRITTEN_KEPT = 10_000  # events committed by this process and not offered yet, beyond which
# the oldest are dropped (the feed is far behind: it reads them from the log)


class Feed(ABC):
    """One source's live reader, and the subscriptions it serves."""

    def __init__(self, name: str, *, postgres: bool) -> None:
        self.name = name
        self.postgres = postgres
        self.wake = asyncio.Event()
        # subscriptions to one key (an aggregate, a view's row), the others apart: an item is
        # offered to its key's subscriptions and the broad ones only
        self._by_key: dict[Hashable, set[Subscription]] = defaultdict(set)
        self._broad: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    @abstractmethod
    def horizon(self) -> int:
        """Every item up to this position has been handed out."""

    @property
    def waiting(self) -> bool:
        """Whether items are known to be on their way (read again soon)."""
        return False

    async def start(self) -> None:
        """Begin at the current end of the source."""
        await self._begin()
        self._task = asyncio.create_task(self._run(), name=f"live feed {self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscription in self.subscriptions():
            subscription.cancel()

    def written(  # noqa: B027 - a hook, which only some feeds need
        self, events: Sequence[RecordedEvent[Event]], state: State
    ) -> None:
        """What a command of this process wrote to the source (`CommitSignals.on_written`):
        by default, nothing to keep."""

    @abstractmethod
    async def check_resume(self, after: int) -> None:
        """Raise a LiveError when the source cannot replay what follows `after`."""

    def add(self, subscription: Subscription, after: int | None) -> None:
        """Serve `subscription` from now on; first replay the source after `after`, if given."""
        self._group(subscription).add(subscription)
        if after is not None and after < self.horizon:
            subscription.held = []
            subscription.replay = asyncio.create_task(
                self._replay(subscription, after, self.horizon)
            )

    def remove(self, subscription: Subscription) -> None:
        group = self._group(subscription)
        group.discard(subscription)
        if not group and subscription.key is not None:
            del self._by_key[subscription.key]
        subscription.cancel()

    @property
    def idle(self) -> bool:
        """Whether it serves no subscription."""
        return not self._broad and not self._by_key

    def subscriptions(self) -> list[Subscription]:
        """Every subscription the feed serves."""
        return [*self._broad, *(s for group in self._by_key.values() for s in group)]

    def candidates(self, key: Hashable) -> list[Subscription]:
        """The subscriptions that may want an item of `key`."""
        return [*self._broad, *self._by_key.get(key, ())]

    def _group(self, subscription: Subscription) -> set[Subscription]:
        if subscription.key is None:
            return self._broad
        return self._by_key[subscription.key]

    @abstractmethod
    async def _begin(self) -> None:
        """Place the horizon at the current end of the source."""

    @abstractmethod
    async def _read(self) -> int:
        """Read what follows the horizon and hand it out; return how many items were read."""

    @abstractmethod
    async def _replay_range(self, subscription: Subscription, after: int, until: int) -> None:
        """Queue for `subscription` what it wants in (after, until]."""

    async def _run(self) -> None:
        clock = asyncio.get_running_loop().time
        while True:
            started = clock()
            try:
                if await self._read() == BATCH:
                    continue  # more are waiting
            except Exception:
                logger.exception("the live feed of %s failed; retrying", self.name)
                await asyncio.sleep(FAILURE_PAUSE_S)
            await self._sleep()
            if (left := started + READ_INTERVAL_S - clock()) > 0:
                await asyncio.sleep(left)  # while writes stream in, each read takes several

    async def _sleep(self) -> None:
        idle = IDLE_POLL_S if self.postgres else POLL_S
        pause = SETTLING_POLL_S if self.waiting else idle
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(pause):
                await self.wake.wait()
        self.wake.clear()

    async def _replay(self, subscription: Subscription, after: int, until: int) -> None:
        """Hand `subscription` the items in (after, until], then the live ones held meanwhile;
        when the source cannot be read, have the subscriber close and resume."""
        try:
            await self._replay_range(subscription, after, until)
        except Exception:
            logger.exception("replaying %s failed", self.name)
            subscription.sink.overflowed.set()
            return
        subscription.release()


class DomainFeed(Feed):
    """The live reader of one domain's log, for subscriptions to its aggregates."""

    def __init__(
        self, engine: AsyncEngine, log: DomainLog, aggregates: Sequence[type[Aggregate[Any]]]
    ) -> None:
        self.engine = engine
        self.log = SettledLog(engine, log, aggregates)
        super().__init__(log.domain, postgres=self.log.postgres)
        self._states = StateTracker(engine)
        # by position, the events that commands of this process committed, until offered
        self._written: dict[int, RecordedEvent[Event]] = {}
        self._states_after: dict[int, State] = {}  # of the last event of each command

    @property
    def horizon(self) -> int:
        return self.log.horizon

    @property
    def waiting(self) -> bool:
        return self.log.waiting

    async def check_resume(self, after: int) -> None:
        """Nothing to check: the log keeps every event."""

    async def _begin(self) -> None:
        await self.log.start()

    def written(self, events: Sequence[RecordedEvent[Event]], state: State) -> None:
        """Keep a committed command's events, and the state after them, and read soon: the
        events need no reading from the log, decoding or folding."""
        for event in events:
            self._written[event.position] = event
        self._states_after[events[-1].position] = state
        while len(self._written) > WRITTEN_KEPT:
            self._forget(next(iter(self._written)))
        self.wake.set()

    async def _read(self) -> int:
        """Offer each event read to its subscriptions; when one fails, the next read starts
        again from it (subscriptions drop what they already had).

        Events that commands of this process committed at the positions just past the horizon
        are offered as they are, with no statement: every position up to the last of them is
        committed, so settled. The log is read when the next position is not among them (a
        write of another process, one in flight, a position a failed write used up); what
        commands handed over is dropped once offered."""
        horizon = self.log.horizon
        for offered in [position for position in self._written if position <= horizon]:
            self._forget(offered)
        events = self._committed_run(horizon) or await self.log.read(known=self._written)
        for event in events:
            try:
                await self._offer(event)
            except Exception:
                self.log.rewind(event.position - 1)
                raise
        return len(events)

    def _committed_run(self, horizon: int) -> list[RecordedEvent[Event]]:
        """The events handed over at the consecutive positions after `horizon`, up to a batch;
        the horizon moves past them."""
        run: list[RecordedEvent[Event]] = []
        while len(run) < BATCH and (event := self._written.get(horizon + len(run) + 1)):
            run.append(event)
        if run:
            self.log.advance(run[-1].position)
        return run

    def _forget(self, position: int) -> None:
        del self._written[position]
        self._states_after.pop(position, None)

    async def _offer(self, event: RecordedEvent[Event]) -> None:
        aggregate = self.log.aggregates[event.aggregate]
        resource = aggregate.qualified_name()
        interested = [s for s in self.candidates(event.aggregate_id) if s.resource.name == resource]
        if not interested:
            return
        given = self._states_after.get(event.position)
        row, body = await self._change(self._states, aggregate, event, given)
        for subscription in interested:
            if subscription.wants(row, event.metadata.tenant):
                subscription.deliver(event.position, body)

    async def _replay_range(self, subscription: Subscription, after: int, until: int) -> None:
        states = StateTracker(self.engine)
        resource = subscription.resource.name
        position = after
        while True:
            async with self.engine.connect() as connection:
                events = await read_range(
                    connection,
                    self.log.log,
                    self.log.aggregates,
                    position,
                    until,
                    aggregate_id=cast("uuid.UUID | None", subscription.key),
                )
            for event in events:
                aggregate = self.log.aggregates[event.aggregate]
                if aggregate.qualified_name() != resource:
                    continue
                row, body = await self._change(states, aggregate, event)
                if subscription.wants(row, event.metadata.tenant):
                    await subscription.sink.queue.put(subscription.render(event.position, body))
            if len(events) < BATCH:
                return
            position = events[-1].position

    @staticmethod
    async def _change(
        states: StateTracker,
        aggregate: type[Aggregate[Any]],
        event: RecordedEvent[Event],
        given: State | None = None,
    ) -> tuple[dict[str, Any], str]:
        """The state row `event` leaves behind (`given`, when its command handed it over),
        and the body of its messages."""
        state = await states.after(aggregate, event, given)
        event_json = {**event.summary(), "aggregate_id": str(event.aggregate_id)}
        body = event_body(event.position, event_json, state)
        return state.model_dump(), body
