"""What the HTTP app records in the instruments (instruments.py): its requests, the commands
sent over HTTP, and its connection pool."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge
from sqlalchemy import event

from fluvius.domain.errors import (
    AlreadyExists,
    ConcurrencyError,
    DomainError,
    IdempotencyConflict,
    VersionConflict,
)
from fluvius.fastapi.middleware import CLIENT_CLOSED, HttpMiddleware
from fluvius.observability.instruments import (
    COMMANDS,
    CONNECTIONS_IN_USE,
    CONNECTIONS_WAITING,
    HTTP_LATENCY,
    HTTP_REQUESTS,
)

if TYPE_CHECKING:
    from starlette.types import Message, Receive, Scope, Send

    from fluvius.application.processor import CommandResult
    from fluvius.data.driver import Database

UNMATCHED = "unmatched"  # the route of a request no route matched: one label, whatever its path
_CONFLICTS = (VersionConflict, ConcurrencyError, AlreadyExists, IdempotencyConflict)


def command_outcome(error: Exception) -> str:
    """The outcome label of a command that raised `error`."""
    if isinstance(error, _CONFLICTS):
        return "conflict"
    return "refused" if isinstance(error, DomainError) else "error"


async def count_command(name: str, run: Awaitable[CommandResult]) -> CommandResult:
    """The result of `run`, the command `name`, counted by its outcome."""
    try:
        result = await run
    except Exception as error:
        COMMANDS.labels(name, command_outcome(error)).inc()
        raise
    COMMANDS.labels(name, "retried" if result.replayed else "ok").inc()
    return result


def watch_pool(database: Database) -> None:
    """Keep the connection gauges of `database`'s engines as connections come and go."""
    engines = {"write": database.write, "read": database.read}
    engines.update((replica.name, replica.engine) for replica in database.replicas.replicas)
    for name, engine in engines.items():
        if name == "read" and engine is database.write:
            continue
        in_use = CONNECTIONS_IN_USE.labels(name)
        event.listen(engine.sync_engine, "checkout", _moving(in_use, 1))
        event.listen(engine.sync_engine, "checkin", _moving(in_use, -1))
    database.observe_waits(CONNECTIONS_WAITING.inc)


def _moving(gauge: Gauge, change: int) -> Callable[..., None]:
    """A pool event listener that moves `gauge` by `change`."""

    def listener(*_arguments: object) -> None:
        gauge.inc(change)

    return listener


class HttpMetrics(HttpMiddleware):
    """ASGI middleware counting requests by route template and status, and timing them."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = CLIENT_CLOSED  # unless a reply starts

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", UNMATCHED)
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], template).observe(time.perf_counter() - started)
