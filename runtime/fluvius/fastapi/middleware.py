"""ASGI middleware: request ids with access logs and 500s, and a bound on request bodies."""

from __future__ import annotations

import json
import logging
import re
import time
from http import HTTPStatus
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fluvius.fastapi.context import current_request_id, reset_request_id, set_request_id
from fluvius.fastapi.problems import ProblemError, internal_error, problem_response
from fluvius.ids import uuid7

REQUEST_ID_HEADER = "X-Request-ID"
CLIENT_CLOSED = 499  # the status logged for a request whose client left before the reply
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("fluvius.access")


class HttpMiddleware:
    """An ASGI middleware of HTTP requests: `handle` answers each request it `applies` to;
    anything else (lifespan, websockets, other requests) passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.applies(scope):
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def applies(self, scope: Scope) -> bool:
        """Whether `handle` sees this HTTP request."""
        return True

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestContext(HttpMiddleware):
    """Gives every request an id (the caller's X-Request-ID if sane), echoes it, answers an
    unexpected exception with a 500 problem, and logs the request as one JSON line on
    `fluvius.access` once it is answered, or abandoned by its client."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_ID.fullmatch(incoming) else str(uuid7())
        token = set_request_id(request_id)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            status = CLIENT_CLOSED
        except Exception as error:
            if status is not None:  # too late for a reply of its own
                raise
            await internal_error(Request(scope), error)(scope, receive, send_with_id)
        finally:
            status = status or HTTPStatus.INTERNAL_SERVER_ERROR.value
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                "client closed the connection" if status == CLIENT_CLOSED else status,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "client": (scope.get("client") or ("", 0))[0],
                },
            )
            reset_request_id(token)


class BodyLimit(HttpMiddleware):
    """Refuses request bodies over `max_bytes` with 413, whether announced or streamed; the
    paths in `exempt` apply limits of their own (uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes
        self.exempt = frozenset(exempt)

    def applies(self, scope: Scope) -> bool:
        return scope["path"] not in self.exempt

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        announced = Headers(scope=scope).get("content-length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            response = problem_response(None, *self._too_large())
            await response(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ProblemError(*self._too_large())
            return message

        await self.app(scope, bounded_receive, send)

    def _too_large(self) -> tuple[HTTPStatus, str, str]:
        return (
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "payload-too-large",
            f"the request body is over {self.max_bytes} bytes",
        )


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log record, with the request fields that middleware attached, and
    the id of the request being served, if any."""

    _FIELDS = ("request_id", "method", "path", "status", "duration_ms", "client")
    _TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
    _encoder = json.JSONEncoder(default=str)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._second: tuple[int, str] = (-1, "")  # the last second formatted, and its text

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        attributes = record.__dict__
        entry.update({key: attributes[key] for key in self._FIELDS if key in attributes})
        if "request_id" not in entry and (request_id := current_request_id()) is not None:
            entry["request_id"] = request_id  # logged while serving a request
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry)

    def _time(self, record: logging.LogRecord) -> str:
        """`formatTime` at a second's resolution, formatted once per second."""
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, self.formatTime(record, self._TIME_FORMAT))
        return self._second[1]
