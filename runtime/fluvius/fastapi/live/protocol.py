"""The `/live` protocol: its limits, close codes and the messages the server sends.

Every limit holds per connection; docs/http-api.md ("Live") lists them for clients.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import IntEnum
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

from fluvius.fastapi.problems import problem_body

AUTH_TIMEOUT_S = 5.0  # a connection without a header token must send a message within this
MAX_MESSAGE_BYTES = 16 * 1024  # one client message
MAX_SUBSCRIPTIONS = 100  # open at once
MAX_SUBSCRIPTION_ID = 100  # characters
QUEUE_MESSAGES = 1000  # messages waiting to be sent; past it the subscriber is too slow
RATE_PER_S = 20.0  # client messages per second, sustained
RATE_BURST = 200  # client messages at once (room to open every subscription twice)
KEEPALIVE_S = 15.0  # an SSE comment line when nothing else was sent

OPENAPI_NOTE = (
    "**Live.** The WebSocket `/live` streams changes, authorized like reads: authenticate with "
    '`Authorization: Bearer` or a message `{"type": "auth", "token": "..."}` (without either, '
    "the connection reads as an anonymous GET would), then "
    '`{"type": "subscribe", "id": "s1", "resource": "<domain>.<aggregate or view>"}` with an '
    "optional `aggregate_id` (a view: `key`), `query` (the `query=` filter) and `after` (a "
    "position to resume from); "
    'each change arrives as `{"type": "event", "subscription", "position", "event", "state"}`. '
    "Close codes: 4401 unauthenticated, 4403 another subject, 4429 too many messages, 4440 token "
    "expired, 4503 too slow (resume with `after`), 1009 message too big. "
    "`GET .../{id}/events?follow=true` streams one aggregate (a view: `.../{key}/events`) as "
    "server-sent events."
)


class Close(IntEnum):
    """The close codes of `/live`."""

    GOING_AWAY = 1001  # the server stops; reconnect, with `after`
    MESSAGE_TOO_BIG = 1009  # a client message over MAX_MESSAGE_BYTES
    INTERNAL_ERROR = 1011  # the server failed (logged); reconnect, with `after`
    UNAUTHENTICATED = 4401  # a bad token, or no header token and no message in AUTH_TIMEOUT_S
    FORBIDDEN = 4403  # a fresh `auth` names another subject or tenant
    TOKEN_EXPIRED = 4440  # the token expired before a fresh `auth` arrived
    TOO_MANY_MESSAGES = 4429  # over RATE_PER_S (bursts of RATE_BURST)
    RESUME = 4503  # too slow: QUEUE_MESSAGES were waiting; resume each subscription with `after`


class LiveError(Exception):
    """A client message refused with a problem (an `error` message; the connection stays)."""

    def __init__(self, status: HTTPStatus, code: str, detail: str, *, errors: Any = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors

    def problem(self) -> dict[str, Any]:
        return problem_body(self.status, self.code, self.detail, errors=self.errors)


def bad_message(detail: str) -> LiveError:
    return LiveError(HTTPStatus.BAD_REQUEST, "invalid-message", detail)


def error_message(subscription: str | None, problem: dict[str, Any]) -> str:
    reply: dict[str, Any] = {"type": "error", "problem": problem}
    if subscription is not None:
        reply["id"] = subscription
    return json.dumps(reply)


def reply(kind: str, subscription: str, **fields: Any) -> str:
    return json.dumps({"type": kind, "id": subscription, **fields})


def event_body(
    position: int, event: dict[str, Any], state: BaseModel | dict[str, Any] | None
) -> str:
    """The part of an event message that all its subscribers share (JSON without braces); the
    state is a row, or a state model as its JSON dump gives it."""
    return f'"position":{position},"event":{_compact(event)},"state":{_compact(state)}'


def event_messages(subscription: str) -> Callable[[int, str], str]:
    """How the event messages of `subscription` are made from their shared body."""
    head = f'{{"type":"event","subscription":{json.dumps(subscription)},'
    return lambda _position, body: f"{head}{body}}}"


def _compact(value: Any) -> str:
    return to_json(value).decode()
