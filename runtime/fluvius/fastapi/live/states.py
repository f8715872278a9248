"""The state of an aggregate as it stood just after one of its events.

A command of this process hands over the state after its last event, which the feed passes on
(`given`). Otherwise a feed reads events in order, so the state after an event is usually the
state after the previous one with the event applied: the tracker keeps the latest state of
recently seen aggregates (a bounded cache). Failing both, the state row answers when it is at
that version, and the aggregate's history folded up to the event when it has moved on.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from fluvius.data.mapping import storage_of
from fluvius.data.store import EventStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent, State

CACHED_STATES = 10_000


class StateTracker:
    """States after events, for events read in log order."""

    def __init__(self, engine: AsyncEngine, capacity: int = CACHED_STATES) -> None:
        self.engine = engine
        self.capacity = capacity
        self._latest: OrderedDict[uuid.UUID, State] = OrderedDict()

    async def after(
        self,
        aggregate: type[Aggregate[Any]],
        event: RecordedEvent[Event],
        given: State | None = None,
    ) -> State:
        """The state of `event`'s aggregate just after `event`: `given`, when its command
        handed it over."""
        previous = self._latest.get(event.aggregate_id)
        if given is not None:
            state = given
        elif previous is not None and previous.version == event.version - 1:
            state = _applied(aggregate, previous, event)
        else:
            state = await self._load(aggregate, event)
        self._latest[event.aggregate_id] = state
        self._latest.move_to_end(event.aggregate_id)
        if len(self._latest) > self.capacity:
            self._latest.popitem(last=False)
        return state

    async def _load(self, aggregate: type[Aggregate[Any]], event: RecordedEvent[Event]) -> State:
        storage = storage_of(aggregate)
        table = storage.table
        async with self.engine.connect() as connection:
            query = select(table).where(table.c.id == event.aggregate_id)
            row = (await connection.execute(query)).mappings().first()
            if row is not None and row["version"] == event.version:
                loaded: State = aggregate.state_type.model_validate(dict(row))
                return loaded
            store = EventStore(connection, storage.log)
            history = await store.history(aggregate, event.aggregate_id, limit=event.version)
        state: State = aggregate.fold(event.aggregate_id, [each.data for each in history])
        return state.evolve(created_at=history[0].recorded_at, updated_at=event.recorded_at)


def _applied(
    aggregate: type[Aggregate[Any]], previous: State, event: RecordedEvent[Event]
) -> State:
    """`previous` with `event` applied."""
    folded = aggregate(previous)
    folded.apply(event.data)
    state: State = folded.state.evolve(
        created_at=previous.created_at or event.recorded_at, updated_at=event.recorded_at
    )
    return state
