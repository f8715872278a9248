"""Server-sent events: one aggregate's events as a `text/event-stream`, resumable.

Each event is `id: <log position>` and `data: {"position", "event", "state"}`, the body of a
`/live` event message; a comment line keeps an idle stream open. The stream ends when the
token expires or the client is too slow (it reconnects with `Last-Event-ID`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi.responses import StreamingResponse

from fluvius.fastapi.live.protocol import KEEPALIVE_S
from fluvius.fastapi.live.subscriptions import Sink, Subscription

if TYPE_CHECKING:
    from fluvius.domain.aggregate import Aggregate
    from fluvius.fastapi.access import Access
    from fluvius.fastapi.live.hub import LiveHub

EVENT_STREAM = "text/event-stream"


async def event_stream(
    hub: LiveHub,
    aggregate: type[Aggregate[Any]],
    access: Access,
    aggregate_id: uuid.UUID,
    last_event_id: int,
) -> StreamingResponse:
    """The events of one aggregate after position `last_event_id`, then as they commit."""
    sink = Sink(hub.queue_limit)
    subscription = await hub.subscribe(
        hub.resource(aggregate.qualified_name()),
        access,
        sink,
        lambda position, body: f"id: {position}\ndata: {{{body}}}\n\n",
        aggregate_id=aggregate_id,
        after=last_event_id,
    )
    return StreamingResponse(
        _messages(hub, subscription, access.principal.expires_at),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _messages(
    hub: LiveHub, subscription: Subscription, expires_at: float | None
) -> AsyncIterator[str]:
    sink = subscription.sink
    try:
        yield ": following\n\n"
        while not sink.overflowed.is_set():
            left = KEEPALIVE_S if expires_at is None else expires_at - time.time()
            if left <= 0:
                return
            try:
                yield await asyncio.wait_for(sink.queue.get(), min(left, KEEPALIVE_S))
            except TimeoutError:
                yield ": keepalive\n\n"
    finally:
        hub.unsubscribe(subscription)
