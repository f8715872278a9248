"""What a live subscription can name: a resource whose rows change with a domain's events.

A resource gives the domain whose log feeds it, which events concern it, the row each event
leaves behind, and its filter. Aggregates are resources; a view can become one by telling the
same things about its rows.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fluvius.data.mapping import storage_of
from fluvius.query import fields_of
from fluvius.query.filters import parse_query
from fluvius.query.matching import Predicate, row_predicate

if TYPE_CHECKING:
    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent
    from fluvius.fastapi.live.states import StateTracker


class LiveResource(Protocol):
    """A resource live subscriptions follow."""

    @property
    def name(self) -> str:
        """As URLs and policies name it: domain.name."""
        ...

    @property
    def log(self) -> DomainLog:
        """The log whose events change the resource's rows."""
        ...

    def concerns(self, event: RecordedEvent[Event]) -> bool:
        """Whether `event` changes a row of this resource."""
        ...

    async def row_after(self, states: StateTracker, event: RecordedEvent[Event]) -> dict[str, Any]:
        """The row as it stands just after `event` (python values)."""
        ...

    def json_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row as a GET replies it."""
        ...

    def predicate(self, query: Any, dialect: str) -> Predicate:
        """The filter `query` (a JSON object, or its text) as a predicate over rows."""
        ...


@dataclass(frozen=True)
class AggregateResource:
    """An aggregate's state rows."""

    aggregate: type[Aggregate[Any]]

    @property
    def name(self) -> str:
        return self.aggregate.qualified_name()

    @property
    def log(self) -> DomainLog:
        return storage_of(self.aggregate).log

    def concerns(self, event: RecordedEvent[Event]) -> bool:
        return event.aggregate == self.aggregate.name

    async def row_after(self, states: StateTracker, event: RecordedEvent[Event]) -> dict[str, Any]:
        return (await states.after(self.aggregate, event)).model_dump()

    def json_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row as a GET replies it."""
        return self.aggregate.state_type.model_validate(row).model_dump(mode="json")

    def predicate(self, query: Any, dialect: str) -> Predicate:
        table = storage_of(self.aggregate).table
        text = query if isinstance(query, str) else json.dumps(query)
        return row_predicate(parse_query(text), table, fields_of(table), dialect)


def event_json(event: RecordedEvent[Event]) -> dict[str, Any]:
    """An event as live messages carry it."""
    return {**event.summary(), "aggregate_id": str(event.aggregate_id)}


def parse_aggregate_id(value: object) -> uuid.UUID:
    """An aggregate id from a client message; ValueError when it is not a UUID."""
    if not isinstance(value, str):
        raise ValueError("not text")
    return uuid.UUID(value)
