"""A subscriber's bounded queue, and its subscriptions: what each one wants and has received."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluvius.fastapi.access import Access, Gate
    from fluvius.fastapi.live.resources import LiveResource
    from fluvius.query.matching import Predicate


class Sink:
    """The messages waiting for one subscriber (a WebSocket, an SSE stream), at most `limit`.

    A feed never waits for a subscriber: a message that does not fit marks the sink as
    overflowed, and its owner closes the connection (the client resumes from its last
    position)."""

    def __init__(self, limit: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(limit)
        self.overflowed = asyncio.Event()

    def offer(self, message: str) -> None:
        """Queue `message` now, or mark the sink as overflowed."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()


Render = Callable[[int, str], str]
"""An event message from its position and the shared body (see protocol.event_body)."""


@dataclass(eq=False)
class Subscription:
    """One subscription: its resource, caller, selection (one key: an aggregate's id, a view
    row's key; a filter), and the last position it was given."""

    resource: LiveResource
    access: Access
    gate: Gate
    sink: Sink
    render: Render
    last: int  # live events at or below this position are not for it
    key: Hashable | None = None
    predicate: Predicate | None = None
    held: list[str] | None = None  # live messages waiting for the replay to finish
    replay: asyncio.Task[None] | None = field(default=None, repr=False)

    def wants(self, row: Mapping[str, Any], tenant: str | None) -> bool:
        """Whether a change of its key that left `row` (python values) in `tenant` is for
        this subscription: its caller may read the row, as a GET would, and it passes the
        filter."""
        if not self.gate.sees(self.access, row, tenant):
            return False
        return self.predicate is None or self.predicate(row)

    def deliver(self, position: int, body: str) -> None:
        """Pass on a live event (held while the replay runs)."""
        if position <= self.last:
            return
        self.last = position
        message = self.render(position, body)
        if self.held is None:
            self.sink.offer(message)
        elif len(self.held) < self.sink.queue.maxsize:
            self.held.append(message)
        else:
            self.sink.overflowed.set()

    def release(self) -> None:
        """End the replay: pass on the live events held meanwhile."""
        held, self.held = self.held or [], None
        for message in held:
            self.sink.offer(message)

    def cancel(self) -> None:
        if self.replay is not None:
            self.replay.cancel()
