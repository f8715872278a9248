"""The messages of an aggregate: command payloads, events, and the state they project."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict

_set = object.__setattr__


class Command(BaseModel):
    """Base of command payloads. Declare the name: `class Deposit(Command, name="deposit")`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    command_name: ClassVar[str]

    def __init_subclass__(cls, *, name: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.command_name = name


class Event(BaseModel):
    """Base of events: `class MoneyDeposited(Event, name="money-deposited", version=1)`.

    `version` is the schema version of the event's data; it grows when the fields change, and
    upcasters turn older data into the current shape.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_name: ClassVar[str]
    schema_version: ClassVar[int]

    def __init_subclass__(cls, *, name: str = "", version: int = 1, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_name = name
        cls.schema_version = version


class State(BaseModel):
    """Base of aggregate states: one row of the aggregate's state table."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    version: int = 0
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    def evolve(self, **changes: Any) -> Self:
        """A copy with `changes` applied (not validated), as `model_copy(update=changes)` makes.

        Folds call this twice per event, so the common case (no extra fields, no private
        attributes) builds the copy directly, as pydantic's `__copy__` does, in half the time.
        """
        if self.__pydantic_extra__ is not None or self.__pydantic_private__ is not None:
            return self.model_copy(update=changes)
        copied = type(self).__new__(type(self))
        _set(copied, "__dict__", {**self.__dict__, **changes})
        _set(copied, "__pydantic_extra__", None)
        _set(copied, "__pydantic_fields_set__", self.__pydantic_fields_set__ | changes.keys())
        _set(copied, "__pydantic_private__", None)
        return copied


class EventMetadata(BaseModel):
    """Who and what caused an event."""

    model_config = ConfigDict(frozen=True)

    user: str | None = None
    tenant: str | None = None
    command_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None  # W3C Trace Context of the span that recorded the event


E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class RecordedEvent(Generic[E]):
    """An event as stored in its domain's log."""

    position: int
    id: uuid.UUID
    aggregate: str
    aggregate_id: uuid.UUID
    version: int
    name: str
    schema_version: int
    data: E
    metadata: EventMetadata
    recorded_at: dt.datetime
    transaction_id: int = 0

    def summary(self) -> dict[str, Any]:
        """The event as JSON-ready data, as command replies and history list it."""
        return {
            "id": str(self.id),
            "name": self.name,
            "version": self.version,
            "data": self.data.model_dump(mode="json"),
            "recorded_at": utc_text(self.recorded_at),
        }


def utc_text(moment: dt.datetime) -> str:
    """A UTC time as JSON replies carry it: ISO 8601 ending in Z."""
    return moment.isoformat().replace("+00:00", "Z")
