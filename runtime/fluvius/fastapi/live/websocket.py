"""`/live`: one WebSocket connection, its token, its subscriptions and its limits.

A connection authenticates by its `Authorization: Bearer` header or by an `auth` message
`{"type": "auth", "token": ...}`; without a header token, one whose first message (due within
AUTH_TIMEOUT_S) is not `auth` is anonymous, and reads what GET serves without a token. A later
`auth` (a first one, or a fresh token of the same subject and tenant) keeps it open past the
previous token's expiry and admits each subscription again with the new token's roles.
docs/http-api.md ("Live") is the message reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect

from fluvius.fastapi.access import bearer_token
from fluvius.fastapi.auth import ANONYMOUS, Principal
from fluvius.fastapi.live.protocol import (
    AUTH_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    MAX_SUBSCRIPTION_ID,
    MAX_SUBSCRIPTIONS,
    RATE_BURST,
    RATE_PER_S,
    Close,
    LiveError,
    bad_message,
    error_message,
    event_messages,
    reply,
)
from fluvius.fastapi.live.resources import SELECTORS
from fluvius.fastapi.live.subscriptions import Sink, Subscription
from fluvius.fastapi.problems import ProblemError

if TYPE_CHECKING:
    from collections.abc import Hashable

    from fluvius.fastapi.live.hub import LiveHub
    from fluvius.fastapi.live.resources import LiveResource

logger = logging.getLogger("fluvius.live")


class Closing(Exception):
    """End the connection with `code`."""

    def __init__(self, code: Close, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def live_endpoint(websocket: WebSocket) -> None:
    """Serve one `/live` connection until it closes."""
    await LiveConnection(websocket, websocket.app.state.runtime.live).serve()


class LiveConnection:
    """One client of `/live`."""

    def __init__(self, websocket: WebSocket, hub: LiveHub) -> None:
        self.websocket = websocket
        self.hub = hub
        self.sink = Sink(hub.queue_limit)
        self.subscriptions: dict[str, Subscription] = {}
        self.principal: Principal | None = None
        self.renewed = asyncio.Event()
        self._allowance = float(RATE_BURST)
        self._counted_at = time.monotonic()

    async def serve(self) -> None:
        await self.websocket.accept()
        tasks: list[asyncio.Task[None]] = []
        try:
            first = await self._authenticate()
            tasks = [
                asyncio.create_task(self._receive(first)),
                asyncio.create_task(self._send()),
                asyncio.create_task(self._watch()),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except Closing as closing:
            await self._close(closing.code, closing.reason)
        except (WebSocketDisconnect, OSError, RuntimeError):  # starlette: send after close
            pass  # the client left
        except Exception:
            logger.exception("a /live connection failed")
            await self._close(Close.INTERNAL_ERROR, "the server failed; reconnect with after")
        finally:
            for task in tasks:
                task.cancel()
            for subscription in self.subscriptions.values():
                self.hub.unsubscribe(subscription)

    async def _close(self, code: Close, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)

    async def _authenticate(self) -> dict[str, Any] | None:
        """Take the header's token; without one, the connection is anonymous until an `auth`,
        and its first message (returned, to be handled as any) must come in time."""
        token = bearer_token(self.websocket.headers.get("authorization"))
        if token is not None:
            await self._use(token)
            return None
        try:
            first = await asyncio.wait_for(self._next(), AUTH_TIMEOUT_S)
        except TimeoutError:
            raise Closing(Close.UNAUTHENTICATED, "no message in time") from None
        self.principal = ANONYMOUS
        return first

    async def _use(self, token: str) -> None:
        """Take `token` as the connection's credentials."""
        try:
            principal = await self.hub.gate.verifier.principal(token)
        except ProblemError as error:
            await self.websocket.send_text(error_message(None, _problem(error)))
            raise Closing(Close.UNAUTHENTICATED, error.detail[:120]) from None
        previous = self.principal
        if (
            previous is not None
            and not previous.anonymous
            and (previous.sub, previous.tenant) != (principal.sub, principal.tenant)
        ):
            raise Closing(Close.FORBIDDEN, "a fresh token must name the same subject and tenant")
        self.principal = principal
        self._readmit()
        self.renewed.set()

    def _readmit(self) -> None:
        """Admit each subscription again as the connection's principal, as at subscribe: one
        still allowed reads with the new roles and scope, another ends with an `error`."""
        assert self.principal is not None
        for name, subscription in list(self.subscriptions.items()):
            try:
                subscription.access = self.hub.admit(self.principal, subscription.resource)
            except LiveError as error:
                self._end(name)
                self.sink.offer(error_message(name, error.problem()))

    def _end(self, name: str) -> None:
        """End the subscription `name`, if open (an `unknown-subscription` LiveError if not)."""
        subscription = self.subscriptions.pop(name, None)
        if subscription is None:
            raise LiveError(HTTPStatus.NOT_FOUND, "unknown-subscription", "no such subscription")
        self.hub.unsubscribe(subscription)

    async def _watch(self) -> None:
        """Close the connection when its token expires or its queue overflows."""
        overflow = asyncio.create_task(self.sink.overflowed.wait())
        try:
            while True:
                self.renewed.clear()
                assert self.principal is not None
                expires = self.principal.expires_at
                left = None if expires is None else max(0.0, expires - time.time())
                renewed = asyncio.create_task(self.renewed.wait())
                done, _ = await asyncio.wait(
                    {overflow, renewed}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                renewed.cancel()
                if overflow in done:
                    raise Closing(Close.RESUME, "too slow: resume with after=<last position>")
                if not done:
                    raise Closing(Close.TOKEN_EXPIRED, "the token expired")
        finally:
            overflow.cancel()

    async def _send(self) -> None:
        while True:
            await self.websocket.send_text(await self.sink.queue.get())

    async def _receive(self, first: dict[str, Any] | None) -> None:
        message = first if first is not None else await self._next()
        while True:
            try:
                await self._handle(message)
            except LiveError as error:
                subscription = message.get("id")
                self.sink.offer(
                    error_message(
                        subscription if isinstance(subscription, str) else None, error.problem()
                    )
                )
            message = await self._next()

    async def _next(self) -> dict[str, Any]:
        """The next client message as an object; an error reply for what is not one."""
        while True:
            received = await self.websocket.receive()
            if received["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(received.get("code", 1000))
            self._count()
            text = received.get("text")
            frame = text.encode() if text is not None else received.get("bytes") or b""
            if len(frame) > MAX_MESSAGE_BYTES:
                raise Closing(Close.MESSAGE_TOO_BIG, f"messages hold {MAX_MESSAGE_BYTES} bytes")
            if text is None:
                self._refuse(bad_message("messages are JSON text frames"))
                continue
            try:
                message = json.loads(text)
            except (ValueError, RecursionError):
                self._refuse(bad_message("the message is not JSON"))
                continue
            if isinstance(message, dict):
                return message
            self._refuse(bad_message('a message is a JSON object with a "type"'))

    def _refuse(self, error: LiveError) -> None:
        self.sink.offer(error_message(None, error.problem()))

    def _count(self) -> None:
        """Spend one message of the allowance; close past it."""
        now = time.monotonic()
        self._allowance = min(
            float(RATE_BURST), self._allowance + (now - self._counted_at) * RATE_PER_S
        )
        self._counted_at = now
        if self._allowance < 1:
            raise Closing(Close.TOO_MANY_MESSAGES, f"more than {RATE_PER_S:g} messages a second")
        self._allowance -= 1

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "auth":
            token = message.get("token")
            if not isinstance(token, str):
                raise bad_message("auth takes a token")
            await self._use(token)
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "unsubscribe":
            self._end(_subscription_id(message))
            self.sink.offer(reply("unsubscribed", message["id"]))
        else:
            raise LiveError(
                HTTPStatus.BAD_REQUEST,
                "unknown-message-type",
                f"unknown message type {json.dumps(kind)[:60]}: auth, subscribe or unsubscribe",
            )

    async def _subscribe(self, message: dict[str, Any]) -> None:
        name = _subscription_id(message)
        if name in self.subscriptions:
            raise LiveError(HTTPStatus.CONFLICT, "subscription-exists", f"'{name}' is open")
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise LiveError(
                HTTPStatus.TOO_MANY_REQUESTS,
                "too-many-subscriptions",
                f"a connection holds at most {MAX_SUBSCRIPTIONS} subscriptions",
            )
        after = message.get("after")
        if after is not None and (
            isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**63
        ):
            raise bad_message("after is a log position: a whole number from 0")
        query = message.get("query")
        if query is not None and not isinstance(query, dict | str):
            raise bad_message("query is a filter object, as GET's query=")
        resource = self.hub.resource(message.get("resource"))
        key = _key(resource, message)
        assert self.principal is not None
        access = self.hub.admit(self.principal, resource)
        try:
            subscription = await self.hub.subscribe(
                resource,
                access,
                self.sink,
                event_messages(name),
                key=key,
                query=query,
                after=after,
            )
        except (SQLAlchemyError, OSError):
            raise LiveError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "database-unavailable",
                "the event log cannot be read now; subscribe again later",
            ) from None
        self.subscriptions[name] = subscription
        # queued before the feed or the replay can queue an event for it
        self.sink.offer(reply("subscribed", name, position=subscription.last))


def _key(resource: LiveResource, message: dict[str, Any]) -> Hashable | None:
    """The row a subscribe message picks: an aggregate's by `aggregate_id`, a view's by
    `key`; None for every row."""
    for selector in SELECTORS - {resource.selector}:
        if message.get(selector) is not None:
            raise bad_message(f"{resource.name} picks a row by {resource.selector}, not {selector}")
    value = message.get(resource.selector)
    if value is None:
        return None
    try:
        return resource.key(value)
    except ValueError:
        kind = "a UUID" if resource.selector == "aggregate_id" else "a value of its key field"
        raise bad_message(f"{resource.selector} is {kind}") from None


def _subscription_id(message: dict[str, Any]) -> str:
    name = message.get("id")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_SUBSCRIPTION_ID:
        raise bad_message(f"id is text of 1 to {MAX_SUBSCRIPTION_ID} characters")
    return name


def _problem(error: ProblemError) -> dict[str, Any]:
    return LiveError(error.status, error.code, error.detail).problem()
