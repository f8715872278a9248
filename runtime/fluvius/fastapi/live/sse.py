"""Server-sent events: the changes of one aggregate or one view row as a `text/event-stream`,
resumable.

Each change is `id: <position>` (the log's for an aggregate, the view's change log's for a
view) and `data: {"position", "event", "state"}`, the body of a `/live` event message; a
comment line keeps an idle stream open. The stream ends when the token expires or the client is
too slow (it reconnects with `Last-Event-ID`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi.responses import StreamingResponse

from fluvius.fastapi.live.protocol import KEEPALIVE_S, LiveError
from fluvius.fastapi.live.subscriptions import Sink, Subscription
from fluvius.fastapi.problems import ProblemError

if TYPE_CHECKING:
    from collections.abc import Hashable

    from fluvius.fastapi.access import Access
    from fluvius.fastapi.live.hub import LiveHub

EVENT_STREAM = "text/event-stream"


async def event_stream(
    hub: LiveHub, resource: str, access: Access, key: Hashable, last_event_id: int
) -> StreamingResponse:
    """The changes of the row `key` of `resource` after position `last_event_id`, then as
    they are made."""
    sink = Sink(hub.queue_limit)
    try:
        subscription = await hub.subscribe(
            hub.resource(resource),
            access,
            sink,
            lambda position, body: f"id: {position}\ndata: {{{body}}}\n\n",
            key=key,
            after=last_event_id,
        )
    except LiveError as error:
        raise ProblemError(error.status, error.code, error.detail) from None
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
