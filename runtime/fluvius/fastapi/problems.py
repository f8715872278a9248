"""Every error is RFC 9457 problem+json with a stable `code`: no input gives a 500 or a trace."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from fluvius.data.failures import connection_lost, database_busy
from fluvius.domain.errors import (
    AlreadyExists,
    ConcurrencyError,
    DomainError,
    FileTooLarge,
    GuardFailed,
    IdempotencyConflict,
    InvalidCommand,
    NotFound,
    Rejected,
    ScopeDenied,
    UnsupportedFileType,
    VersionConflict,
)
from fluvius.fastapi.context import current_request_id
from fluvius.query import QueryError

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 1  # the Retry-After of every 503, in seconds: soon, as a busy pool frees fast
logger = logging.getLogger("fluvius.errors")

_DOMAIN_STATUS: list[tuple[type[DomainError], HTTPStatus]] = [
    (NotFound, HTTPStatus.NOT_FOUND),
    (AlreadyExists, HTTPStatus.CONFLICT),
    (GuardFailed, HTTPStatus.CONFLICT),
    (Rejected, HTTPStatus.CONFLICT),
    (ConcurrencyError, HTTPStatus.CONFLICT),
    (VersionConflict, HTTPStatus.PRECONDITION_FAILED),
    (IdempotencyConflict, HTTPStatus.UNPROCESSABLE_ENTITY),
    (FileTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (UnsupportedFileType, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (InvalidCommand, HTTPStatus.UNPROCESSABLE_ENTITY),
    (ScopeDenied, HTTPStatus.FORBIDDEN),
]
_HTTP_CODES = {
    HTTPStatus.NOT_FOUND: "not-found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method-not-allowed",
    HTTPStatus.UNAUTHORIZED: "unauthenticated",
    HTTPStatus.FORBIDDEN: "forbidden",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "payload-too-large",
}


class FieldProblem(BaseModel):
    """One part of the request that is wrong (a body field, a query key...), and why."""

    field: str
    message: str
    code: str | None = None
    allowed: list[str] | None = None
    expected: str | None = None
    did_you_mean: str | None = None


class Problem(BaseModel):
    """An error reply (RFC 9457), with the stable `code` clients can switch on."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class ProblemError(Exception):
    """Raise to answer with a problem: a status, a stable code and a sentence."""

    def __init__(
        self,
        status: HTTPStatus,
        code: str,
        detail: str,
        *,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_body(
    status: HTTPStatus,
    code: str,
    detail: str,
    *,
    errors: list[FieldProblem] | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """The JSON of a problem, as problem+json replies and live feeds' error messages carry it."""
    problem = Problem(
        title=status.phrase,
        status=status.value,
        detail=detail,
        code=code,
        instance=instance,
        request_id=current_request_id(),
        errors=errors,
    )
    return problem.model_dump(exclude_none=True)


def problem_response(
    request: Request | None,
    status: HTTPStatus,
    code: str,
    detail: str,
    *,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; a 503 always says when to retry (`Retry-After`)."""
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        headers = {"Retry-After": str(RETRY_AFTER_S), **(headers or {})}
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem_body(status, code, detail, errors=errors, instance=instance),
        status_code=status.value,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def internal_error(request: Request, error: BaseException) -> JSONResponse:
    """The 500 reply to an unexpected `error`, logged with its traceback and the request id."""
    logger.error(
        "unexpected error on %s %s",
        request.method,
        request.url.path,
        exc_info=error,
        extra={"request_id": current_request_id()},
    )
    return problem_response(
        request,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal-error",
        "the service failed; the request id names it in the logs",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error raised in a request with problem+json (`RequestContext` answers the
    unexpected ones)."""

    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ProblemError)
        return problem_response(
            request,
            error.status,
            error.code,
            error.detail,
            errors=error.errors,
            headers=error.headers,
        )

    async def on_domain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DomainError)
        status = domain_status(error)
        errors = _domain_field_errors(error)
        return problem_response(request, status, error.code, error.message, errors=errors)

    async def on_query_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, QueryError)
        errors = [FieldProblem.model_validate(item) for item in error.errors]
        return problem_response(
            request, HTTPStatus.BAD_REQUEST, error.code, error.message, errors=errors or None
        )

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        issues = list(error.errors())
        if any(issue.get("type") == "json_invalid" for issue in issues):
            return problem_response(
                request,
                HTTPStatus.BAD_REQUEST,
                "malformed-json",
                "the request body is not valid JSON",
            )
        errors = [
            FieldProblem(field=".".join(str(part) for part in issue["loc"]), message=issue["msg"])
            for issue in issues
        ]
        fields = ", ".join(problem.field for problem in errors)
        return problem_response(
            request,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid-request",
            f"the request does not validate: {fields}",
            errors=errors,
        )

    async def on_http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        cause = error.__cause__
        if isinstance(cause, ProblemError):  # raised while FastAPI read the body
            return await on_problem(request, cause)
        if isinstance(cause, ClientDisconnect):  # for `RequestContext` to log
            raise cause
        if error.status_code == HTTPStatus.BAD_REQUEST and cause is not None:
            return problem_response(
                request,
                HTTPStatus.BAD_REQUEST,
                "malformed-json",
                "the request body is not valid JSON in UTF-8",
            )
        status = HTTPStatus(error.status_code)
        detail = error.detail if isinstance(error.detail, str) else status.description
        if status == HTTPStatus.NOT_FOUND and detail == "Not Found":
            detail = f"there is no {request.url.path}"
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            detail = f"{request.method} is not allowed on {request.url.path}"
        code = _HTTP_CODES.get(status, "http-error")
        return problem_response(request, status, code, detail, headers=dict(error.headers or {}))

    async def on_database_error(request: Request, error: Exception) -> JSONResponse:
        if database_busy(error):
            code, detail = "database-busy", "no database connection came free in time"
        elif connection_lost(error):
            code, detail = "database-unavailable", "the database connection was lost"
        else:
            return internal_error(request, error)
        logger.warning(
            "%s on %s %s: %s",
            code,
            request.method,
            request.url.path,
            type(error).__name__,
            extra={"request_id": current_request_id()},
        )
        return problem_response(
            request,
            HTTPStatus.SERVICE_UNAVAILABLE,
            code,
            f"{detail}; retry in a moment",
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(QueryError, on_query_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(SQLAlchemyError, on_database_error)


def domain_status(error: DomainError) -> HTTPStatus:
    """The HTTP status of a domain error."""
    return next(status for kind, status in _DOMAIN_STATUS if isinstance(error, kind))


def _domain_field_errors(error: DomainError) -> list[FieldProblem] | None:
    if isinstance(error, InvalidCommand):
        return [FieldProblem.model_validate(item) for item in error.errors]
    field = error.details.get("field")
    if isinstance(field, str):
        return [FieldProblem(field=field, message=error.message)]
    return None


def problem_responses(*statuses: HTTPStatus) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring problem+json replies for `statuses`."""
    return {
        status.value: {
            "description": status.phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
