"""Schemathesis against the OpenAPI of generated services, in-process, on each backend.

Every operation of the served `/openapi.json` gets up to MAX_EXAMPLES generated requests that fit
its schema and as many that do not, derandomized so a run is the same each time. Each request
goes through the app itself (`api.app`, over httpx's ASGI transport, on the test's event loop,
where the service's database pool lives) and each reply is checked by every schemathesis check
that judges one reply to one request: no server error, a documented status code, content type,
headers and body, valid data accepted (positive_data_acceptance) and invalid data refused
(negative_data_rejection), a missing required header refused, allowed methods. So the document
is exactly as strict as the service. The only valid data a service may refuse is listed in
NOT_ABOUT_THE_DATA, and whole numbers are sent in integer notation (integral_as_integer).

Schemathesis generates in a worker thread (Hypothesis drives a synchronous test function) and
hands each request back to the event loop with `anyio.from_thread.run`. The only requests left
out are those httpx itself refuses to build (a URL component over 64 KiB, a header that is not
Latin-1): no HTTP client can send them, so they say nothing about this API; and those with
`follow=true` that would open a stream of server-sent events, which never ends (tests/live
follows them). Hypothesis's health
checks are off: they judge how fast and how selectively the test generates data, not the API.

What the fuzzing once found in the app is replayed by REGRESSIONS: each reproducing request must
now get a documented reply. The fuzz runs tolerate no finding at all.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.to_thread
import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from fluvius.testing.api import BASE_URL, Api
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import import_service, served

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 15
# Refusals of valid data that no schema can foresee: they depend on what the service holds (a
# key used before, a version that moved on, a cursor it never issued, a ref to an aggregate it
# does not hold, an upload it never received) or on two parameters together (page= with
# cursor=, which OpenAPI cannot state but the description does).
NOT_ABOUT_THE_DATA = {
    "idempotency-key-reused",
    "version-conflict",
    "invalid-cursor",
    "invalid-page",
    "unknown-reference",
    "invalid-file",
}


def positive_data_accepted(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """positive_data_acceptance, but for the refusals in NOT_ABOUT_THE_DATA."""
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    if code in NOT_ABOUT_THE_DATA:
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


# Every check that judges one reply to one request; the stateful ones (use_after_free,
# ensure_resource_availability, ignored_auth, object_level_authorization) need sequences of calls.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_accepted,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
]
HEALTH = {"GET /healthz", "GET /readyz"}
Operation = APIOperation[Any, Any, Any, Any]


@dataclass(frozen=True)
class Target:
    """An example service, fuzzed as a caller with `role` (anonymous without one)."""

    example: str
    role: str | None
    max_examples: int = MAX_EXAMPLES

    @property
    def name(self) -> str:
        return f"{self.example}-as-{self.role or 'anonymous'}"


TARGETS = [
    Target("bank", "teller"),
    Target("clinic", "receptionist"),
    Target("bank", None, max_examples=10),
]


# --- What a run finds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A reply that failed schemathesis's checks, and the request that got it."""

    operation: str
    mode: str
    status: int
    codes: tuple[str, ...]
    body: Any
    report: str

    def __str__(self) -> str:
        return f"{self.operation} ({self.mode}) -> {self.status} {list(self.codes)}\n{self.report}"


@dataclass
class Exploration:
    """Every reply a run got, counted by operation and status, and its findings."""

    replies: Counter[tuple[str, int]] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def operations(self) -> set[str]:
        return {operation for operation, _ in self.replies}

    def statuses(self, operation: str) -> set[int]:
        return {status for label, status in self.replies if label == operation}


@dataclass(frozen=True)
class Regression:
    """A request with which fuzzing once broke the app, and what went wrong then."""

    name: str
    reason: str
    target: Target
    operation: str
    body: Mapping[str, Any]
    path: Mapping[str, str] = field(default_factory=dict)


REGRESSIONS = [
    Regression(
        name="starts-at-beyond-utc",
        reason=(
            "POST /scheduling:book-appointment/appointment/:new (and /{id}) with a starts_at "
            "that is a valid aware datetime but falls outside years 1-9999 once in UTC, e.g. "
            "0001-01-01T01:00:00+03:00: the payload validates, the conversion to UTC for storage "
            "raises OverflowError, and the reply is an undocumented 500"
        ),
        target=TARGETS[1],
        operation="POST /scheduling:book-appointment/schedule/{id}",  # booked there since
        body={
            "patient_id": "c4bf11bf-f279-2235-8cb3-023072ce1456",
            "patient_account": "",
            "reason": "",
            "starts_at": "0001-01-01T01:00:00+03:00",
        },
        path={"id": "0190b1c2-0000-7000-8000-000000000000"},
    ),
    Regression(
        name="nul-in-a-string-field",
        reason=(
            "a command whose payload holds a NUL character in a string (e.g. phone of "
            "POST /scheduling:register-patient/patient/{id}) validates, then PostgreSQL refuses "
            "the text (asyncpg UntranslatableCharacterError): an undocumented 500"
        ),
        target=TARGETS[1],
        operation="POST /scheduling:register-patient/patient/:new",
        body={"account_id": "p1", "full_name": "Pat", "birth_date": "1990-01-01", "phone": "\x00"},
    ),
]


def backend_of(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


# --- Sending generated requests to the app ------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """Sends a case through the app on the event loop, from the thread generating cases."""

    http: httpx.AsyncClient
    headers: Mapping[str, str]

    def request(self, case: Case[Any]) -> httpx.Request:
        """The httpx request of `case`, with the caller's headers."""
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=dict(self.headers))
        assert not kwargs.get("cookies"), kwargs  # the API declares no cookie
        data = kwargs.get("data")
        assert data is None or isinstance(data, bytes | str), kwargs  # only JSON bodies
        return self.http.build_request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            json=integral_as_integer(kwargs.get("json")),
            content=data,
        )

    def send(self, case: Case[Any]) -> httpx.Response:
        if (case.query or {}).get("follow") in (True, "true"):
            hypothesis.reject()  # a stream of server-sent events never ends (see tests/live)
        try:
            request = self.request(case)
        except (httpx.InvalidURL, UnicodeEncodeError):
            hypothesis.reject()  # no client can send it
        response: httpx.Response = anyio.from_thread.run(self.http.send, request)
        return response


def integral_as_integer(value: Any) -> Any:
    """`value` with each float that is a whole number written as an integer, 45.0 as 45.

    JSON Schema cannot tell 45.0 from 45 (`type: integer` holds both), and schemathesis writes
    either; the service takes integers in integer notation only (docs/http-api.md). Floats do
    not care: a JSON number of either notation is a float.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral_as_integer(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral_as_integer(item) for item in value]
    return value


def failures_of(case: Case[Any], response: httpx.Response) -> list[Any]:
    """The schemathesis failures of `response` to `case` (none when every check passes)."""
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        return list(group.exceptions)
    return []


def operations_of(schema: BaseSchema) -> list[Operation]:
    return [schema[path][method] for path in schema for method in schema[path]]


def modes_of(operation: Operation) -> list[GenerationMode]:
    """Valid requests always; invalid ones when the operation takes any input to spoil."""
    takes_input = any(True for _ in operation.iter_parameters()) or bool(operation.body)
    if takes_input:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def explore(schema: BaseSchema, sender: Sender, max_examples: int) -> Exploration:
    """Fuzz every operation of `schema`; run in a worker thread."""
    exploration = Exploration()
    for operation in operations_of(schema):
        for mode in modes_of(operation):
            _explore_operation(operation, mode, sender, max_examples, exploration)
    return exploration


def _explore_operation(
    operation: Operation,
    mode: GenerationMode,
    sender: Sender,
    max_examples: int,
    exploration: Exploration,
) -> None:
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def examples(case: Case[Any]) -> None:
        response = sender.send(case)
        exploration.replies[operation.label, response.status_code] += 1
        failures = failures_of(case, response)
        if failures:
            exploration.findings.append(
                Finding(
                    operation=operation.label,
                    mode=mode.value,
                    status=response.status_code,
                    codes=tuple(sorted({failure.code for failure in failures})),
                    body=case.body if isinstance(case.body, dict) else None,
                    report="\n".join(str(failure) for failure in failures)
                    + f"\nReproduce with: {case.as_curl_command(headers=None)}"
                    + f"\nReply: {response.text[:400]}",
                )
            )

    examples()


def client(api: Api) -> httpx.AsyncClient:
    """A client of the app that gets a 500 as a reply instead of the app's exception."""
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


def caller_headers(api: Api, role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token(role)}"} if role else {}


async def load_schema(http: httpx.AsyncClient) -> tuple[dict[str, Any], BaseSchema]:
    """The OpenAPI document the app serves, and schemathesis's view of it."""
    reply = await http.get("/openapi.json")
    assert reply.status_code == 200, reply.text
    document: dict[str, Any] = reply.json()
    return document, schemathesis.openapi.from_dict(document)


def secured(document: Mapping[str, Any]) -> set[str]:
    """The operations of the OpenAPI `document` that require a security scheme."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }


# --- Tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def roots(projects: ProjectFactory) -> dict[str, Path]:
    """The example projects, made before the tests' event loops run: the CLI runs its own."""
    return {target.example: projects.pristine(target.example) for target in TARGETS}


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
async def test_every_reply_conforms_to_the_openapi(
    roots: dict[str, Path], database_url: str, target: Target
) -> None:
    service = import_service(roots[target.example], target.example)
    async with served(service, database_url) as api, client(api) as http:
        document, schema = await load_schema(http)
        sender = Sender(http, caller_headers(api, target.role))
        run = partial(explore, schema, sender, target.max_examples)
        exploration = await anyio.to_thread.run_sync(run)

    operations = {operation.label for operation in operations_of(schema)}
    assert operations == exploration.operations(), "every operation was called"
    problems = exploration.findings
    assert not problems, "\n\n".join(str(finding) for finding in problems)
    if target.role is None:
        for operation in secured(document):
            answered = exploration.statuses(operation)
            assert not {status for status in answered if status < 300}, (operation, answered)
    else:
        succeeded = {label for label, status in exploration.replies if status < 300} - HEALTH
        assert succeeded, "no generated request got past validation and authorization"


@pytest.mark.parametrize("known", REGRESSIONS, ids=[known.name for known in REGRESSIONS])
async def test_a_former_finding_stays_fixed(
    roots: dict[str, Path], database_url: str, known: Regression
) -> None:
    """Replays a request the fuzzing once broke the app with: it gets a documented reply now."""
    service = import_service(roots[known.target.example], known.target.example)
    async with served(service, database_url) as api, client(api) as http:
        _, schema = await load_schema(http)
        method, path = known.operation.split(" ", 1)
        case = schema[path][method].Case(
            body=dict(known.body), path_parameters=dict(known.path), media_type="application/json"
        )
        sender = Sender(http, caller_headers(api, known.target.role))
        response = await http.send(sender.request(case))
    failures = failures_of(case, response)
    assert not failures, "\n".join(str(failure) for failure in failures)
