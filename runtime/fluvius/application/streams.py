"""What a stream is: a name, and the events (domain, aggregate, event) it carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fluvius.domain.messages import Event, RecordedEvent

STREAM_WORKER_PREFIX = "stream:"  # a stream's dead letters, which its relay delivers again


@dataclass(frozen=True)
class Stream:
    """A public stream: `events` are `domain.aggregate.event` names, as the spec resolves them."""

    name: str
    events: tuple[str, ...]
    description: str = ""

    @property
    def worker(self) -> str:
        """The stream's name among the workers (`fluvius workers`, its dead letters)."""
        return f"{STREAM_WORKER_PREFIX}{self.name}"

    @property
    def setting(self) -> str:
        """The setting, without its prefix, that says where the stream goes."""
        return f"STREAM_{self.name.upper()}_URL"

    def domains(self) -> list[str]:
        """The domains whose logs the stream reads, in declaration order."""
        return list(dict.fromkeys(event.partition(".")[0] for event in self.events))

    def carries(self, domain: str, event: RecordedEvent[Event]) -> bool:
        """True when `event` of the log of the domain named `domain` is one the stream publishes."""
        return f"{domain}.{event.aggregate}.{event.name}" in self.events
