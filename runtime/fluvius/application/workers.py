"""What a worker is: a handler run for each event of a type, or on a cron schedule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.cron import CronSchedule, parse_cron

if TYPE_CHECKING:
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, RecordedEvent

DEFAULT_RETRIES = 3

EventHandler = Callable[["RecordedEvent[Any]", Any], Awaitable[None]]
CronHandler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class EventWorker:
    """Runs `handler(event, ctx)` once for every `event` recorded by `aggregate`."""

    name: str
    aggregate: type[Aggregate[Any]]
    event: type[Event]
    handler: EventHandler
    retries: int = DEFAULT_RETRIES


@dataclass(frozen=True)
class CronWorker:
    """Runs `handler(ctx)` on a 5-field cron schedule (UTC)."""

    name: str
    cron: str
    handler: CronHandler
    retries: int = DEFAULT_RETRIES
    schedule: CronSchedule = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", parse_cron(self.cron))
