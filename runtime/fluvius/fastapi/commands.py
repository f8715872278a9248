"""One route per command: `POST /{domain}:{command}/{aggregate}/{id}`, and `/:new` to create.

FastAPI declares and documents each route from its endpoint's signature, and answers every
request that is not plain. A plain request (a JSON body that validates, headers within bounds,
an id that is a UUID, an admitted caller) takes the route's fast path instead, which checks it
as FastAPI would, without FastAPI's generic dependency solving: that costs more than the rest of
the request's handling in Python together. The fast path stands aside where FastAPI's path could
answer otherwise: on a route with dependencies of its own, in an app with dependency overrides.

`compare_paths(app)` (the test harness, `fluvius.testing.api`, turns it on) sends every request
the fast path answers through FastAPI's path too, and fails it unless both answers are the same,
byte for byte. The command runs once: FastAPI's path gets the fast path's outcome when it asks
for the same command with the same caller, payload, id and headers.

This module does not postpone annotations: FastAPI reads the endpoints' dependencies from the
closures that build them, and each endpoint's payload type from its signature.
"""

import inspect
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Request, Response
from pydantic import TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect

from fluvius.application.processor import CommandContext
from fluvius.data.consistency import HEADER as CONSISTENCY_HEADER
from fluvius.domain.aggregate import Aggregate, CommandHandler
from fluvius.domain.errors import InvalidCommand
from fluvius.domain.messages import Command
from fluvius.fastapi.access import Access, bearer_token
from fluvius.fastapi.context import current_request_id
from fluvius.fastapi.problems import (
    FieldProblem,
    ProblemError,
    domain_status,
    problem_responses,
)
from fluvius.fastapi.replies import CommandReply
from fluvius.fastapi.routes import ServiceRoute
from fluvius.fastapi.runtime import Runtime
from fluvius.observability.metrics import count_command
from fluvius.query.filters import DuplicateKey, unique_keys

_ETAG = re.compile(r'(W/)?"(\d{1,18})"|(\d{1,18})')
IF_MATCH_PATTERN = r'^[ \t]*(?:(?:W/)?"[0-9]{1,18}"|[0-9]{1,18})[ \t]*$'  # _ETAG, for OpenAPI
IDEMPOTENCY_KEY_LENGTH = (1, 200)
IF_MATCH_LENGTH = (0, 40)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=IDEMPOTENCY_KEY_LENGTH[0],
        max_length=IDEMPOTENCY_KEY_LENGTH[1],
        description="Send the same key again to get the stored reply instead of a second run.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=IF_MATCH_LENGTH[1],
        description='The version the command expects, as the ETag `"N"`: 412 when it differs.',
        json_schema_extra={"pattern": IF_MATCH_PATTERN},  # checked by _expected_version
    ),
]
FAST_PATH = "__fluvius_fast_path__"
COMPARE_PATHS = "compare_command_paths"
FastPath = Callable[[Request], Awaitable[Response | None]]
ErrorHandler = Callable[[Request, Exception], Response | Awaitable[Response]]
_UUID = TypeAdapter(uuid.UUID)
# JSONResponse's encoding, without building an encoder per reply
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_RESPONSES = problem_responses(
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
    HTTPStatus.PRECONDITION_FAILED,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)
# A command with file fields also refuses a file of the wrong type.
_FILE_RESPONSES = {**_RESPONSES, **problem_responses(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)}


def add_command_routes(app: FastAPI, runtime: Runtime, aggregate: type[Aggregate[Any]]) -> None:
    """Routes for every command of `aggregate`."""
    setattr(app.state, COMPARE_PATHS, False)
    for handler in aggregate.commands.values():
        _add_routes(app, runtime, aggregate, handler)


def compare_paths(app: FastAPI) -> None:
    """Answer every plain command request of `app` on both paths, and fail it (500) unless
    the answers are the same, byte for byte."""
    setattr(app.state, COMPARE_PATHS, True)


class PathsDiffer(AssertionError):
    """The fast path and FastAPI's answered one request differently."""


@dataclass
class _Outcome:
    """What a path answered: a response, or an error raised."""

    response: Response | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class _Call:
    """What a command route runs: the command, who sends it, on which aggregate, and how."""

    access: Access
    payload: Command | None
    aggregate_id: uuid.UUID | None
    if_match: str | None
    idempotency_key: str | None


@dataclass
class _Execution:
    """The command the fast path ran for a request under comparison, and its outcome."""

    call: _Call
    outcome: _Outcome


# Set while a request under comparison runs: FastAPI's path replays the fast path's execution.
_COMPARED: ContextVar[list[_Execution] | None] = ContextVar("compared", default=None)


class CommandRequest(Request):
    """A command's request, whose JSON body may not repeat a key in one object (400)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = _unique_json(await self.body())
        return self._json


class CommandRoute(ServiceRoute):
    """A command's route: its endpoint's fast path first, FastAPI's handler when it declines."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        fast: FastPath | None = getattr(self.endpoint, FAST_PATH, None)
        if fast is None or self.dependencies:  # dependencies only FastAPI's path runs
            return handler

        async def handle(request: Request) -> Response:
            request = CommandRequest(request.scope, request.receive)
            app = request.app
            if app.dependency_overrides:  # which only FastAPI's path applies
                return await handler(request)
            if getattr(app.state, COMPARE_PATHS):
                return await _compared(request, fast, handler)
            response = await fast(request)
            return response if response is not None else await handler(request)

        return handle


async def _compared(
    request: Request, fast: FastPath, handler: Callable[[Request], Awaitable[Response]]
) -> Response:
    """The fast path's answer to `request`, once FastAPI's path has given the same."""
    token = _COMPARED.set([])
    try:
        answer = await _outcome(fast(request))
        if isinstance(answer.error, ClientDisconnect):
            raise answer.error  # the client left: no path has anyone to answer
        declined = answer.response is None and answer.error is None
        twin = None if declined else await _outcome(handler(request))
    finally:
        _COMPARED.reset(token)
    if twin is None:
        return await handler(request)  # declined: FastAPI's path answers alone
    fast_bytes, fastapi_bytes = await _rendered(request, answer), await _rendered(request, twin)
    if fast_bytes != fastapi_bytes:
        raise PathsDiffer(
            f"{request.method} {request.url.path}: the fast path answered {fast_bytes!r}, "
            f"FastAPI's path {fastapi_bytes!r}"
        )
    if answer.error is not None:
        raise answer.error
    assert answer.response is not None
    return answer.response


async def _outcome(answer: Awaitable[Response | None]) -> _Outcome:
    try:
        return _Outcome(response=await answer)
    except Exception as error:
        return _Outcome(error=error)


async def _rendered(request: Request, outcome: _Outcome) -> bytes:
    """An answer as the client gets it: status line, headers and body; an error as the app's
    handler of it answers, or as its type and message when it has none (a 500)."""
    response = outcome.response
    if outcome.error is not None:
        handler = _error_handler(request, outcome.error)
        if handler is None:
            return f"{type(outcome.error).__name__}: {outcome.error}".encode()
        handled = handler(request, outcome.error)
        response = await handled if inspect.isawaitable(handled) else handled
    assert response is not None
    headers = b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    return b"%d\r\n%s\r\n%s" % (response.status_code, headers, response.body)


def _error_handler(request: Request, error: Exception) -> ErrorHandler | None:
    """The app's handler of `error`, as Starlette finds it."""
    handlers: dict[Any, ErrorHandler] = request.app.exception_handlers
    for kind in type(error).__mro__:
        if kind in handlers:
            return handlers[kind]
    return None


def _add_routes(
    app: FastAPI, runtime: Runtime, aggregate: type[Aggregate[Any]], handler: CommandHandler
) -> None:
    payload_type = handler.payload
    required = any(field.is_required() for field in payload_type.model_fields.values())
    resource = aggregate.qualified_name()
    admitted = runtime.gate.require(resource, handler.name)
    base = f"/{aggregate.domain}:{handler.name}/{aggregate.name}"
    operation = f"{aggregate.domain}_{aggregate.name}_{handler.payload.__name__}"
    command = f"{aggregate.domain}:{handler.name}"

    async def execute(call: _Call) -> Response:
        executions = _COMPARED.get()
        if executions is None:
            return await run(call)
        if not executions:  # the fast path, first: run the command, keep its outcome
            outcome = await _outcome(run(call))
            executions.append(_Execution(call, outcome))
        elif executions[0].call != call:  # FastAPI's path asks for another command
            raise PathsDiffer(f"the fast path ran {executions[0].call!r}, FastAPI's path {call!r}")
        outcome = executions[0].outcome
        if outcome.error is not None:
            raise outcome.error
        assert outcome.response is not None
        return outcome.response

    async def run(call: _Call) -> Response:
        access, payload = call.access, call.payload
        context = CommandContext(
            user=access.principal.sub,
            roles=access.principal.roles,
            tenant=access.principal.tenant,
            command_id=call.idempotency_key,
            correlation_id=current_request_id(),
        )
        run = runtime.processor.execute(
            aggregate,
            payload if payload is not None else payload_type(),
            call.aggregate_id,
            context=context,
            expected_version=_expected_version(call.if_match),
            scope=runtime.gate.scope(access),
        )
        try:
            result = await (count_command(command, run) if runtime.settings.metrics else run)
        except InvalidCommand as error:
            raise _body_problem(error) from None
        headers = {"ETag": f'"{result.version}"'}
        if handler.create:
            headers["Location"] = f"/{aggregate.domain}.{aggregate.name}/{result.aggregate_id}"
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        if result.token is not None:
            headers[CONSISTENCY_HEADER] = result.token.encode()
        status = HTTPStatus.CREATED if handler.create else HTTPStatus.OK
        content = _JSON.encode({"status": "OK", "data": result.response}).encode()
        return Response(content, status, headers, media_type="application/json")

    async def fast(request: Request, *, by_id: bool) -> Response | None:
        """The reply to a plain request; None leaves the request to FastAPI."""
        headers = request.headers
        try:
            token = bearer_token(headers.get("authorization"))
            access = await runtime.gate.admit(token, resource, handler.name)
        except ProblemError as error:
            if error.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
                raise  # the same answer FastAPI would give, without waiting for it twice
            return None
        aggregate_id = _valid_uuid(request.path_params["id"]) if by_id else None
        if_match = headers.get("if-match") if by_id else None
        idempotency_key = headers.get("idempotency-key")
        plain = (
            (aggregate_id is not None or not by_id)
            and _within(if_match, IF_MATCH_LENGTH)
            and _within(idempotency_key, IDEMPOTENCY_KEY_LENGTH)
        )
        payload = await _json_payload(request, payload_type) if plain else None
        if payload is None:
            return None
        return await execute(_Call(access, payload, aggregate_id, if_match, idempotency_key))

    payload = _payload_parameter(payload_type, required=required)

    async def on_aggregate(
        id: uuid.UUID,
        payload: Any,
        access: Access = Depends(admitted),
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        return await execute(_Call(access, payload, id, if_match, idempotency_key))

    setattr(on_aggregate, FAST_PATH, lambda request: fast(request, by_id=True))

    description = (payload_type.__doc__ or "").strip()
    common: dict[str, Any] = {
        "methods": ["POST"],
        "tags": [aggregate.domain],
        "response_model": CommandReply,
        "responses": _FILE_RESPONSES if handler.files else _RESPONSES,
        "description": description,
        "status_code": HTTPStatus.CREATED if handler.create else HTTPStatus.OK,
        "route_class_override": CommandRoute,
    }
    if handler.create:

        async def on_new(
            payload: Any,
            access: Access = Depends(admitted),
            idempotency_key: IdempotencyKey = None,
        ) -> Response:
            return await execute(_Call(access, payload, None, None, idempotency_key))

        setattr(on_new, FAST_PATH, lambda request: fast(request, by_id=False))
        app.router.add_api_route(
            f"{base}/:new",
            _with_payload(on_new, payload),
            operation_id=operation,
            summary=f"{handler.name}: create {_article(aggregate.name)}",
            **common,
        )
    app.router.add_api_route(
        f"{base}/{{id}}",
        _with_payload(on_aggregate, payload),
        operation_id=f"{operation}_by_id" if handler.create else operation,
        summary=f"{handler.name} on {_article(aggregate.name)}"
        + (", with an id of the caller's choice" if handler.create else ""),
        **common,
    )


def _payload_parameter(payload_type: type[Command], *, required: bool) -> inspect.Parameter:
    """The `payload` parameter of an endpoint: the command's body, optional when it has no
    required field."""
    description = (payload_type.__doc__ or "").strip()
    if required:
        annotation: Any = Annotated[payload_type, Body(description=description)]
        return inspect.Parameter("payload", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    return inspect.Parameter(
        "payload",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[payload_type | None, Body(description=description)],
        default=None,
    )


def _with_payload(endpoint: Callable[..., Any], payload: inspect.Parameter) -> Callable[..., Any]:
    """`endpoint` with `payload` as its payload parameter, which is where FastAPI reads it."""
    signature = inspect.signature(endpoint)
    parameters = [
        payload if parameter.name == "payload" else parameter.replace(kind=payload.kind)
        for parameter in signature.parameters.values()
    ]
    endpoint.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return endpoint


def _valid_uuid(text: str) -> uuid.UUID | None:
    """`text` as the `id` path parameter validates it, or None."""
    try:
        return _UUID.validate_python(text)
    except ValidationError:
        return None


def _within(header: str | None, bounds: tuple[int, int]) -> bool:
    """True when an optional header is absent or as long as its declaration allows."""
    return header is None or bounds[0] <= len(header) <= bounds[1]


async def _json_payload(request: Request, payload_type: type[Command]) -> Command | None:
    """The payload of a JSON body that validates, as FastAPI reads it; otherwise None."""
    if request.headers.get("content-type") != "application/json":
        return None
    if not await request.body():
        return None
    try:
        body = await request.json()
    except ProblemError:
        raise
    except Exception:  # not JSON in UTF-8, or nested too deep: FastAPI says which
        return None
    try:
        return payload_type.model_validate(body)
    except ValidationError:
        return None


def _unique_json(body: bytes) -> Any:
    """The JSON value of a body; a ProblemError when an object in it repeats a key."""
    try:
        return json.loads(body, object_pairs_hook=unique_keys)
    except DuplicateKey as error:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "duplicate-key",
            f"the request body {error}: send each field once",
            errors=[FieldProblem(field="body", message=f"{error}")],
        ) from None


def _body_problem(error: InvalidCommand) -> ProblemError:
    """A payload the processor refused, its fields named as in the request (`body.<field>`)."""
    errors = [
        FieldProblem.model_validate({**item, "field": f"body.{item['field']}"})
        for item in error.errors
    ]
    return ProblemError(domain_status(error), error.code, error.message, errors=errors)


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    match = _ETAG.fullmatch(if_match.strip(" \t"))
    if match is None:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "invalid-if-match",
            'If-Match must be the ETag of a version, like "3"',
        )
    if match.group(1):  # If-Match compares strongly: a weak tag never matches
        raise ProblemError(
            HTTPStatus.PRECONDITION_FAILED,
            "version-conflict",
            'If-Match needs a strong ETag, like "3"; a weak one never matches',
        )
    return int(match.group(2) or match.group(3))


def _article(noun: str) -> str:
    """`noun` after the indefinite article its first letter asks for ("an account")."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
