"""The id of the request being served, for logs and problem replies."""

from __future__ import annotations

from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("fluvius_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request this code runs for, if any."""
    return _request_id.get()


def set_request_id(request_id: str) -> Token[str | None]:
    """Make `request_id` current; `reset_request_id` takes the token back."""
    return _request_id.set(request_id)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)
