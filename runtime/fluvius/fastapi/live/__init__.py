"""Live feeds: the `/live` WebSocket and server-sent events, authorized like reads."""

from fluvius.fastapi.live.hub import LiveHub
from fluvius.fastapi.live.sse import EVENT_STREAM, event_stream
from fluvius.fastapi.live.websocket import live_endpoint

__all__ = ["EVENT_STREAM", "LiveHub", "event_stream", "live_endpoint"]
