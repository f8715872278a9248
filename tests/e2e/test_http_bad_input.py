"""Bad HTTP input to generated services: every refusal is a 4xx problem+json, never a 500.

Each case of the table sends one bad request to an example service, freshly served on each
backend, and checks the reply: the status, the RFC 9457 fields and their types, the stable
`code`, the field that `errors` names, and that no traceback leaks. Stateful refusals (cursors,
idempotency keys, SQL-looking values) have their own tests below the table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from fluvius.testing.api import BASE_URL, Api
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import import_service, served

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
PROBLEM_TYPE = "application/problem+json"
BOTH = ("sqlite", "postgresql")

OPEN = "/banking:open-account/account/:new"
DEPOSIT = "/banking:deposit/account/{id}"
FREEZE = "/banking:freeze-account/account/{id}"
ACCOUNTS = "/banking.account/"
ACCOUNT = "/banking.account/{id}"
HISTORY = "/banking.account/{id}/events"
BOOK = "/scheduling:book-appointment/schedule/{id}"  # the body is refused before the id is read
PATIENTS = "/scheduling.patient/"
CREATE_PRODUCT = "/catalog:create-product/product/:new"
PRODUCTS = "/catalog.product/"
STOCK_ITEMS = "/catalog.stock_item/"

NEW_ACCOUNT = {"owner": "u1", "opened_on": "2024-01-01"}
APPOINTMENT = {
    "patient_id": "01a2132b-ceca-7298-9961-be24550552bd",
    "patient_account": "p1",
    "starts_at": "2030-01-01T10:00:00Z",
    "reason": "check-up",
}
PRODUCT = {
    "sku": "SKU-1",
    "title": "Teapot",
    "details": "A teapot.",
    "price": "12.50",
    "weight_kg": 0.8,
    "attributes": {"colour": "blue"},
}
STRING_OPERATORS = ["eq", "ne", "in", "has", "startswith"]
UNKNOWN_ID = "01a2132b-0000-7000-8000-000000000000"


# --- Who calls ----------------------------------------------------------------------------------

Caller = Callable[[Api], dict[str, str]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def role(*roles: str, sub: str = "u1") -> Caller:
    """A caller with a valid token for `roles` (in the test tenant, with tenancy)."""

    def headers(api: Api) -> dict[str, str]:
        return bearer(api.token(*roles, sub=sub))

    return headers


def anonymous(_api: Api) -> dict[str, str]:
    return {}


def authorization(value: str) -> Caller:
    """A caller sending `value` as its Authorization header."""

    def headers(_api: Api) -> dict[str, str]:
        return {"Authorization": value}

    return headers


def forged(
    *,
    secret: str | None = None,
    algorithm: str = "HS256",
    expires_in: dt.timedelta = dt.timedelta(minutes=5),
    drop: tuple[str, ...] = (),
    **claims: object,
) -> Caller:
    """A teller token made with PyJWT from the service's settings, changed as told."""

    def headers(api: Api) -> dict[str, str]:
        settings = api.settings
        assert settings.jwt_secret is not None
        now = dt.datetime.now(dt.UTC)
        payload: dict[str, object] = {
            "sub": "u1",
            "roles": ["teller"],
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "iat": now,
            "exp": now + expires_in,
            **claims,
        }
        for name in drop:
            del payload[name]
        key = "" if algorithm == "none" else secret or settings.jwt_secret
        return bearer(jwt.encode(payload, key, algorithm=algorithm))

    return headers


TELLER = role("teller")


# --- What is sent -------------------------------------------------------------------------------

NO_BODY = object()


@dataclass(frozen=True)
class Call:
    """One request; `{id}` in the path stands for the id of the example's seeded aggregate."""

    method: str
    path: str
    params: Mapping[str, str | int] = dataclasses.field(default_factory=dict)
    body: object = NO_BODY
    content: bytes | None = None
    chunked: bool = False
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


def post(path: str, body: object = NO_BODY, **headers: str) -> Call:
    return Call("POST", path, body=body, headers=_header_names(headers))


def raw(path: str, content: bytes, *, chunked: bool = False) -> Call:
    """POST `content` as it is, announced as JSON."""
    return Call("POST", path, content=content, chunked=chunked)


def get(path: str, **params: str | int) -> Call:
    return Call("GET", path, params=params)


def where(query: object, path: str = ACCOUNTS) -> Call:
    """The list route with `query=`: JSON of `query`, or `query` itself when it is text."""
    return get(path, query=query if isinstance(query, str) else json.dumps(query))


def nested(levels: int) -> dict[str, Any]:
    """A filter nesting `.and` `levels` deep."""
    query: dict[str, Any] = {"owner": "u1"}
    for _ in range(levels):
        query = {".and": [query]}
    return query


def _header_names(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in headers.items()}


# --- The table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """A bad request and the problem it must get."""

    name: str
    call: Call
    status: int
    code: str
    field: str | None = None  # an entry of `errors` names this field
    allowed: list[str] | None = None  # ...and lists these as allowed
    detail: str | None = None  # text the detail holds
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)  # reply headers: text
    example: str = "bank"
    caller: Caller = TELLER


# fmt: off
CASES = [
    # Bodies that are not a JSON object
    Bad("body-truncated", raw(OPEN, b'{"owner": "ann", "opened_on": "20'), 400, "malformed-json"),
    Bad("body-trailing-garbage", raw(OPEN, b'{"owner": "ann"} }{'), 400, "malformed-json"),
    Bad("body-not-utf8", raw(OPEN, b'{"owner": "\xff\xfe"}'), 400, "malformed-json"),
    Bad("body-nested-too-deep", raw(OPEN, b"[" * 100_000 + b"]" * 100_000), 400,
        "malformed-json"),
    Bad("body-empty-where-required", raw(DEPOSIT, b""), 422, "invalid-request", field="body"),
    Bad("body-json-array", post(OPEN, [NEW_ACCOUNT]), 422, "invalid-request", field="body"),
    Bad("body-json-number", post(OPEN, 42), 422, "invalid-request", field="body"),
    Bad("body-json-string", post(OPEN, "owner"), 422, "invalid-request", field="body"),
    Bad("body-array-on-command-without-fields", post(FREEZE, []), 422, "invalid-request",
        field="body"),
    # Payload fields of the wrong type or out of bounds
    Bad("string-for-decimal", post(DEPOSIT, {"amount": "ten"}), 422, "invalid-request",
        field="body.amount"),
    Bad("number-for-string", post(OPEN, {**NEW_ACCOUNT, "owner": 5}), 422, "invalid-request",
        field="body.owner"),
    Bad("object-for-date", post(OPEN, {**NEW_ACCOUNT, "opened_on": {"y": 2024}}), 422,
        "invalid-request", field="body.opened_on"),
    Bad("decimal-1e400", raw(DEPOSIT, b'{"amount": 1e400}'), 422, "invalid-request",
        field="body.amount"),
    Bad("decimal-nan-string", post(DEPOSIT, {"amount": "NaN"}), 422, "invalid-request",
        field="body.amount"),
    Bad("decimal-nan-literal", raw(DEPOSIT, b'{"amount": NaN}'), 422, "invalid-request",
        field="body.amount"),
    Bad("decimal-too-many-digits", post(DEPOSIT, {"amount": "1" * 40}), 422, "invalid-request",
        field="body.amount"),
    Bad("negative-where-gt-0", post(DEPOSIT, {"amount": "-5"}), 422, "invalid-request",
        field="body.amount"),
    Bad("zero-where-gt-0", post(DEPOSIT, {"amount": "0"}), 422, "invalid-request",
        field="body.amount"),
    Bad("negative-where-ge-0", post(OPEN, {**NEW_ACCOUNT, "initial_deposit": "-1"}), 422,
        "invalid-request", field="body.initial_deposit"),
    Bad("string-over-max-length", post(OPEN, {**NEW_ACCOUNT, "owner": "x" * 81}), 422,
        "invalid-request", field="body.owner"),
    Bad("unknown-extra-field", post(DEPOSIT, {"amount": "5", "bonus": 1}), 422, "invalid-request",
        field="body.bonus"),
    Bad("missing-required-field", post(OPEN, {"owner": "ann"}), 422, "invalid-request",
        field="body.opened_on"),
    Bad("nul-in-string", post(OPEN, {**NEW_ACCOUNT, "owner": "a\x00b"}), 422, "invalid-request",
        field="body.owner"),
    Bad("naive-datetime", post(BOOK, {**APPOINTMENT, "starts_at": "2030-01-01T10:00:00"}), 422,
        "invalid-request", field="body.starts_at", example="clinic", caller=role("receptionist")),
    Bad("datetime-past-year-9999-in-utc",
        post(BOOK, {**APPOINTMENT, "starts_at": "9999-12-31T23:59:59-14:00"}), 422,
        "invalid-request", field="body.starts_at", example="clinic",
        caller=role("receptionist")),
    Bad("datetime-before-year-1-in-utc",
        post(BOOK, {**APPOINTMENT, "starts_at": "0001-01-01T00:00:00+14:00"}), 422,
        "invalid-request", field="body.starts_at", example="clinic",
        caller=role("receptionist")),
    Bad("integer-above-le", post(BOOK, {**APPOINTMENT, "duration_minutes": 1000}), 422,
        "invalid-request", field="body.duration_minutes", example="clinic",
        caller=role("receptionist")),
    Bad("integer-below-ge", post(BOOK, {**APPOINTMENT, "duration_minutes": 1}), 422,
        "invalid-request", field="body.duration_minutes", example="clinic",
        caller=role("receptionist")),
    Bad("integer-beyond-int64", post(BOOK, {**APPOINTMENT, "duration_minutes": 2**70}), 422,
        "invalid-request", field="body.duration_minutes", example="clinic",
        caller=role("receptionist")),
    # JSON types as declared, nothing looser (docs/http-api.md, "Payloads")
    Bad("date-as-integer", post(OPEN, {**NEW_ACCOUNT, "opened_on": 0}), 422, "invalid-request",
        field="body.opened_on"),
    Bad("date-with-a-time", post(OPEN, {**NEW_ACCOUNT, "opened_on": "2024-01-01T00:00:00"}), 422,
        "invalid-request", field="body.opened_on"),
    Bad("decimal-padded", post(DEPOSIT, {"amount": " 5 "}), 422, "invalid-request",
        field="body.amount"),
    Bad("decimal-underscores", post(DEPOSIT, {"amount": "1_000"}), 422, "invalid-request",
        field="body.amount"),
    Bad("decimal-exponent", post(DEPOSIT, {"amount": "1e3"}), 422, "invalid-request",
        field="body.amount"),
    Bad("decimal-as-json-number", post(DEPOSIT, {"amount": 5}), 422, "invalid-request",
        field="body.amount"),
    Bad("integer-as-string", post(BOOK, {**APPOINTMENT, "duration_minutes": "30"}), 422,
        "invalid-request", field="body.duration_minutes", example="clinic",
        caller=role("receptionist")),
    Bad("integer-as-float",
        raw(BOOK, json.dumps(APPOINTMENT | {"duration_minutes": 30.0}).encode()), 422,
        "invalid-request", field="body.duration_minutes", example="clinic",
        caller=role("receptionist")),
    Bad("integer-as-boolean", post(BOOK, {**APPOINTMENT, "duration_minutes": True}), 422,
        "invalid-request", field="body.duration_minutes", example="clinic",
        caller=role("receptionist")),
    Bad("datetime-as-unix-time", post(BOOK, {**APPOINTMENT, "starts_at": 1700000000}), 422,
        "invalid-request", field="body.starts_at", example="clinic", caller=role("receptionist")),
    Bad("datetime-as-unix-time-text", post(BOOK, {**APPOINTMENT, "starts_at": "1700000000"}),
        422, "invalid-request", field="body.starts_at", example="clinic",
        caller=role("receptionist")),
    Bad("uuid-without-hyphens", post(BOOK, {**APPOINTMENT, "patient_id": "0" * 32}), 422,
        "invalid-request", field="body.patient_id", example="clinic",
        caller=role("receptionist")),
    Bad("query-integer-as-string", where({"version.gt": "1"}), 400, "invalid-value",
        field="version.gt"),
    Bad("query-unknown-parameter", get(ACCOUNTS, filter='{"owner": "u1"}'), 400,
        "unknown-parameter"),
    Bad("float-infinite", raw(CREATE_PRODUCT, json.dumps(PRODUCT).replace("0.8", "1e999").encode()),
        422, "invalid-request", field="body.weight_kg", example="shop",
        caller=role("merchandiser")),
    Bad("json-field-non-finite",
        raw(CREATE_PRODUCT, json.dumps(PRODUCT).replace('"blue"', "1e999").encode()), 422,
        "invalid-request", field="body.attributes", example="shop", caller=role("merchandiser")),
    Bad("json-field-nul", post(CREATE_PRODUCT, {**PRODUCT, "attributes": {"colour": "\x00"}}),
        422, "invalid-request", field="body.attributes", example="shop",
        caller=role("merchandiser")),
    # Bodies over 1 MiB
    Bad("body-over-limit-announced", raw(OPEN, b" " * (MIB + 1)), 413, "payload-too-large"),
    Bad("body-over-limit-streamed", raw(OPEN, b" " * (MIB + 1), chunked=True), 413,
        "payload-too-large"),
    # Garbage in the path
    Bad("id-not-a-uuid", post(DEPOSIT.replace("{id}", "42"), {"amount": "1"}), 422,
        "invalid-request", field="path.id"),
    Bad("id-very-long", get(ACCOUNT.replace("{id}", "a" * 5000)), 422, "invalid-request",
        field="path.id"),
    Bad("id-unicode", get(ACCOUNT.replace("{id}", "%C3%A9t%C3%A9")), 422, "invalid-request",
        field="path.id"),
    Bad("id-nul", get(ACCOUNT.replace("{id}", "%00")), 422, "invalid-request", field="path.id"),
    Bad("id-dot-dot-slash", get(ACCOUNT.replace("{id}", "..%2F..%2Fetc%2Fpasswd")), 404,
        "not-found"),
    Bad("id-unknown", get(ACCOUNT.replace("{id}", UNKNOWN_ID)), 404, "not-found"),
    Bad("history-of-unknown-id", get(HISTORY.replace("{id}", UNKNOWN_ID)), 404, "not-found"),
    # Routes and methods
    Bad("unknown-route", get("/nope"), 404, "not-found"),
    Bad("unknown-command", post("/banking:rob/account/:new", {}), 404, "not-found"),
    Bad("unknown-aggregate", get("/banking.vault/"), 404, "not-found"),
    Bad("get-on-command", get(DEPOSIT), 405, "method-not-allowed", headers={"allow": "POST"}),
    Bad("delete-on-list", Call("DELETE", ACCOUNTS), 405, "method-not-allowed",
        headers={"allow": "GET"}),
    Bad("delete-on-item", Call("DELETE", ACCOUNT), 405, "method-not-allowed",
        headers={"allow": "GET"}),
    Bad("put-on-command", Call("PUT", DEPOSIT), 405, "method-not-allowed",
        headers={"allow": "POST"}),
    # query= filters
    Bad("query-malformed-json", where("{"), 400, "invalid-query", field="query"),
    Bad("query-not-an-object", where([{"owner": "u1"}]), 400, "invalid-query", field="query"),
    Bad("query-unknown-field", where({"ownr": "u1"}), 400, "unknown-field", field="ownr",
        detail="did you mean 'owner'",
        allowed=["id", "version", "created_at", "updated_at", "owner", "balance", "status",
                 "opened_on"]),
    Bad("query-unknown-operator", where({"owner.gt": "a"}), 400, "unknown-operator",
        field="owner.gt", allowed=STRING_OPERATORS),
    Bad("query-unknown-group", where({".xor": [{"owner": "u1"}]}), 400, "invalid-query",
        field=".xor", detail="did you mean '.or'", allowed=[".and", ".or"]),
    Bad("query-string-for-decimal", where({"balance.gt": "ten"}), 400, "invalid-value",
        field="balance.gt"),
    Bad("query-object-for-enum", where({"status": {"is": "open"}}), 400, "invalid-value",
        field="status"),
    Bad("query-value-not-in-enum", where({"status": "gone"}), 400, "invalid-value",
        field="status"),
    Bad("query-bad-uuid", where({"id": "42"}), 400, "invalid-value", field="id"),
    Bad("query-nan", where('{"balance": NaN}'), 400, "invalid-query", field="query"),
    Bad("query-huge-exponent", where('{"balance.gt": 1e999999999}'), 400, "invalid-value",
        field="balance.gt"),
    Bad("query-nul-in-string", where({"owner": "a\x00b"}), 400, "invalid-value", field="owner"),
    Bad("query-datetime-out-of-range", where({"created_at.gt": "9999-12-31T23:59:59-14:00"}),
        400, "invalid-value", field="created_at.gt"),
    Bad("query-in-empty-list", where({"balance.in": []}), 400, "invalid-value",
        field="balance.in"),
    Bad("query-duplicate-key", where('{"owner": "a", "owner": "b"}'), 400, "invalid-query",
        field="query"),
    Bad("query-nesting-too-deep", where(nested(10)), 400, "query-too-deep", field="query"),
    Bad("query-json-too-deep", where("[" * 2000 + "]" * 2000), 400, "query-too-deep",
        field="query"),
    Bad("query-too-many-conditions", where({".or": [{"owner": "u1"}] * 60}), 400,
        "query-too-deep", field="query"),
    Bad("query-over-max-length", where({"owner": "x" * 40000}), 422, "invalid-request",
        field="query.query"),
    Bad("query-on-json-field", where({"attributes": "x"}, PRODUCTS), 400, "unknown-operator",
        field="attributes", example="shop", caller=role("merchandiser")),
    # sort=, page=, cursor=, limit=
    Bad("sort-unknown-field", get(ACCOUNTS, sort="ownr"), 400, "invalid-sort", field="ownr",
        detail="did you mean 'owner'"),
    Bad("sort-unknown-direction", get(ACCOUNTS, sort="owner.up"), 400, "invalid-sort",
        field="owner.up", allowed=["asc", "desc"]),
    Bad("sort-on-json-field", get(PRODUCTS, sort="attributes"), 400, "invalid-sort",
        field="attributes", example="shop", caller=role("merchandiser")),
    Bad("cursor-garbage", get(ACCOUNTS, cursor="%%not-base64%%"), 400, "invalid-cursor",
        field="cursor"),
    Bad("page-and-cursor", get(ACCOUNTS, page=1, cursor="abc"), 400, "invalid-page",
        field="page"),
    Bad("page-0", get(ACCOUNTS, page=0), 422, "invalid-request", field="query.page"),
    Bad("limit-0", get(ACCOUNTS, limit=0), 422, "invalid-request", field="query.limit"),
    Bad("limit-1000", get(ACCOUNTS, limit=1000), 422, "invalid-request", field="query.limit"),
    Bad("limit-negative", get(ACCOUNTS, limit=-1), 422, "invalid-request", field="query.limit"),
    Bad("limit-not-a-number", get(ACCOUNTS, limit="ten"), 422, "invalid-request",
        field="query.limit"),
    Bad("history-after-negative", get(HISTORY, after=-1), 422, "invalid-request",
        field="query.after"),
    Bad("history-limit-over-max", get(HISTORY, limit=5000), 422, "invalid-request",
        field="query.limit"),
    # Authentication
    Bad("no-token", get(ACCOUNTS), 401, "unauthenticated", caller=anonymous,
        headers={"www-authenticate": "Bearer"}),
    Bad("no-token-on-command", post(DEPOSIT, {"amount": "1"}), 401, "unauthenticated",
        caller=anonymous, headers={"www-authenticate": "Bearer"}),
    Bad("basic-scheme", get(ACCOUNTS), 401, "unauthenticated",
        caller=authorization("Basic dTE6cGFzc3dvcmQ="), headers={"www-authenticate": "Bearer"}),
    Bad("malformed-token", get(ACCOUNTS), 401, "unauthenticated",
        caller=authorization("Bearer not.a.jwt"), headers={"www-authenticate": "invalid_token"}),
    Bad("token-of-another-secret", get(ACCOUNTS), 401, "unauthenticated",
        caller=forged(secret=secrets.token_urlsafe(32)),
        headers={"www-authenticate": "invalid_token"}),
    Bad("token-expired", get(ACCOUNTS), 401, "unauthenticated",
        caller=forged(expires_in=dt.timedelta(minutes=-5)), detail="expired",
        headers={"www-authenticate": "invalid_token"}),
    Bad("token-wrong-audience", get(ACCOUNTS), 401, "unauthenticated",
        caller=forged(aud="another-service"), headers={"www-authenticate": "invalid_token"}),
    Bad("token-wrong-issuer", get(ACCOUNTS), 401, "unauthenticated",
        caller=forged(iss="someone-else"), headers={"www-authenticate": "invalid_token"}),
    Bad("token-without-exp", get(ACCOUNTS), 401, "unauthenticated", caller=forged(drop=("exp",)),
        headers={"www-authenticate": "invalid_token"}),
    Bad("token-alg-none", get(ACCOUNTS), 401, "unauthenticated", caller=forged(algorithm="none"),
        headers={"www-authenticate": "invalid_token"}),
    Bad("token-roles-not-a-list", get(ACCOUNTS), 401, "unauthenticated", caller=forged(roles=7),
        headers={"www-authenticate": "invalid_token"}),
    Bad("bad-token-on-public-route", get(PRODUCTS), 401, "unauthenticated", example="shop",
        caller=authorization("Bearer not.a.jwt")),
    # Authorization
    Bad("role-without-permission", post(DEPOSIT, {"amount": "1"}), 403, "forbidden",
        caller=role("auditor"), detail="banking.account:deposit"),
    Bad("scoped-role-without-permission", post(FREEZE), 403, "forbidden",
        caller=role("customer", sub="u1"), detail="banking.account:freeze-account"),
    Bad("scoped-role-on-another-owner", post(DEPOSIT, {"amount": "1"}), 404, "not-found",
        caller=role("customer", sub="u2")),
    Bad("no-role-reads", get(ACCOUNTS), 403, "forbidden", caller=role(),
        detail="banking.account:read"),
    Bad("anonymous-on-a-route-that-is-not-public", get(STOCK_ITEMS), 401, "unauthenticated",
        example="shop", caller=anonymous, headers={"www-authenticate": "Bearer"}),
    Bad("token-without-tenant", get(PATIENTS), 403, "tenant-required", example="clinic",
        caller=forged(roles=["receptionist"])),
    # If-Match and Idempotency-Key
    Bad("if-match-not-an-etag", post(DEPOSIT, {"amount": "1"}, If_Match="abc"), 400,
        "invalid-if-match"),
    Bad("if-match-weak", post(DEPOSIT, {"amount": "1"}, If_Match='W/"1"'), 412,
        "version-conflict"),
    Bad("if-match-huge-number", post(DEPOSIT, {"amount": "1"}, If_Match=f'"{"9" * 30}"'), 400,
        "invalid-if-match"),
    Bad("if-match-over-max-length", post(DEPOSIT, {"amount": "1"}, If_Match=f'"{"1" * 60}"'), 422,
        "invalid-request", field="header.If-Match"),
    Bad("if-match-stale", post(DEPOSIT, {"amount": "1"}, If_Match='"7"'), 412, "version-conflict"),
    Bad("idempotency-key-over-max-length",
        post(DEPOSIT, {"amount": "1"}, Idempotency_Key="k" * 201), 422, "invalid-request",
        field="header.Idempotency-Key"),
]
# fmt: on


# --- Serving an example -------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """The aggregate each test of an example starts with: `{id}` in paths."""

    path: str
    payload: Mapping[str, object]
    role: str


SEEDS = {
    "bank": Seed(OPEN, NEW_ACCOUNT, "teller"),
    "clinic": Seed(
        "/scheduling:register-patient/patient/:new",
        {"account_id": "p1", "full_name": "Pat", "birth_date": "1990-01-01", "phone": "1"},
        "receptionist",
    ),
    "shop": Seed(CREATE_PRODUCT, PRODUCT, "merchandiser"),
}


@dataclass(frozen=True)
class Served:
    api: Api
    seeded_id: str


@pytest.fixture(scope="module")
def roots(projects: ProjectFactory) -> dict[str, Path]:
    """The example projects, made before the tests' event loops run: the CLI runs its own."""
    return {example: projects.pristine(example) for example in SEEDS}


@asynccontextmanager
async def serve(
    roots: Mapping[str, Path], example: str, database_url: str
) -> AsyncIterator[Served]:
    """The example's service on `database_url`, holding one seeded aggregate."""
    service = import_service(roots[example], example)
    async with served(service, database_url) as api:
        seed = SEEDS[example]
        async with client(api, role(seed.role)) as seeder:
            reply = await seeder.post(seed.path, json=dict(seed.payload))
        assert reply.status_code == 201, reply.text
        yield Served(api, reply.json()["data"]["id"])


@asynccontextmanager
async def calling(
    roots: Mapping[str, Path], database_url: str, caller: Caller = TELLER, example: str = "bank"
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """The seeded id of a served example, and a client of it for `caller`."""
    async with (
        serve(roots, example, database_url) as service,
        client(service.api, caller) as http,
    ):
        yield service.seeded_id, http


def client(api: Api, caller: Caller = anonymous) -> httpx.AsyncClient:
    """A client of the app that gets a 500 as a reply instead of the app's exception."""
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=caller(api))


async def send(http: httpx.AsyncClient, call: Call, seeded_id: str) -> httpx.Response:
    path = call.path.replace("{id}", seeded_id)
    headers = dict(call.headers)
    content: bytes | AsyncIterator[bytes] | None = call.content
    if call.content is not None:
        headers["Content-Type"] = "application/json"
        if call.chunked:
            content = _chunks(call.content)
    if call.body is not NO_BODY:
        return await http.request(
            call.method, path, params=dict(call.params), json=call.body, headers=headers
        )
    return await http.request(
        call.method, path, params=dict(call.params), content=content, headers=headers
    )


async def _chunks(content: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`content` as a stream, which httpx sends chunked, without Content-Length."""
    for start in range(0, len(content), size):
        yield content[start : start + size]


def backend_of(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


# --- Checks -------------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """`response` is a problem+json reply with `status` and `code`, well typed, with no trace."""
    text = response.text
    assert "Traceback" not in text, text
    assert 'File "' not in text, text
    assert response.status_code == status, f"{response.status_code}: {text[:1000]}"
    assert response.headers["content-type"].startswith(PROBLEM_TYPE), response.headers
    problem = response.json()
    assert isinstance(problem, dict), problem
    for name in ("type", "title", "detail", "code"):
        assert isinstance(problem.get(name), str), (name, problem)
        assert problem[name], (name, problem)
    assert problem["status"] == status, problem
    assert problem["code"] == code, problem
    errors = problem.get("errors", [])
    assert isinstance(errors, list), problem
    for entry in errors:
        assert isinstance(entry.get("field"), str), problem
        assert isinstance(entry.get("message"), str), problem
        assert entry["message"], problem
    return problem


def entry_for(problem: dict[str, Any], name: str) -> dict[str, Any]:
    """The entry of `errors` that names the field `name`."""
    entries = [entry for entry in problem.get("errors", []) if entry["field"] == name]
    assert entries, f"no entry of errors names {name!r}: {problem}"
    entry: dict[str, Any] = entries[0]
    return entry


# --- Tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_bad_request_gets_a_problem(
    roots: dict[str, Path], database_url: str, case: Bad, request: pytest.FixtureRequest
) -> None:
    async with calling(roots, database_url, case.caller, case.example) as (seeded_id, http):
        response = await send(http, case.call, seeded_id)
    problem = assert_problem(response, case.status, case.code)
    if case.field is not None:
        entry = entry_for(problem, case.field)
        if case.allowed is not None:
            assert entry.get("allowed") == case.allowed, entry
    if case.detail is not None:
        assert case.detail in problem["detail"], problem
    for name, text in case.headers.items():
        assert text in response.headers.get(name, ""), response.headers


def test_the_table_names_each_case_once() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


SQL_LOOKING = ["x' OR 1=1 --", "'; DROP TABLE banking_account; --", '" OR ""="']


@pytest.mark.parametrize("text", SQL_LOOKING)
async def test_sql_looking_values_are_only_values(
    roots: dict[str, Path], database_url: str, text: str
) -> None:
    async with calling(roots, database_url) as (_, http):
        for query in (
            {"owner": text},
            {"owner.has": text},
            {"owner.startswith": text},
            {"owner!eq": text, "owner.in": [text]},
            {".or": [{"owner": text}, {"owner": text + "x"}]},
        ):
            reply = await http.get(ACCOUNTS, params={"query": json.dumps(query)})
            assert reply.status_code == 200, reply.text
            assert reply.json()["data"] == [], reply.text
        assert_problem(await send(http, where({"status": text}), ""), 400, "invalid-value")
        assert_problem(await send(http, get(ACCOUNTS, sort=text), ""), 400, "invalid-sort")
        assert_problem(await send(http, get(ACCOUNTS, cursor=text), ""), 400, "invalid-cursor")
        path = ACCOUNT.replace("{id}", text)
        assert_problem(await send(http, get(path), ""), 422, "invalid-request")
        stored = await http.post(OPEN, json={**NEW_ACCOUNT, "owner": text})
        assert stored.status_code == 201, stored.text

        everything = await http.get(ACCOUNTS)
        assert everything.status_code == 200, everything.text
        assert everything.json()["pagination"]["total"] == 2
        exact = await http.get(ACCOUNTS, params={"query": json.dumps({"owner": text})})
        assert [row["owner"] for row in exact.json()["data"]] == [text]


async def _first_page(http: httpx.AsyncClient, **params: str | int) -> str:
    reply = await http.get(ACCOUNTS, params={"limit": 1, **params})
    assert reply.status_code == 200, reply.text
    cursor = reply.json()["pagination"]["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def _tampered(cursor: str) -> str:
    middle = len(cursor) // 2
    flipped = "B" if cursor[middle] == "A" else "A"
    return cursor[:middle] + flipped + cursor[middle + 1 :]


CURSOR_MISUSES: list[tuple[str, Callable[[str], str], dict[str, str]]] = [
    ("tampered", _tampered, {}),
    ("truncated", lambda cursor: cursor[:-3], {}),
    ("with-another-sort", lambda cursor: cursor, {"sort": "owner.desc"}),
    ("with-another-query", lambda cursor: cursor, {"query": '{"owner.startswith": "u"}'}),
]


@pytest.mark.parametrize(
    ("change", "params"),
    [(change, params) for _, change, params in CURSOR_MISUSES],
    ids=[name for name, _, _ in CURSOR_MISUSES],
)
async def test_a_cursor_is_refused_when_it_is_not_the_one_issued(
    roots: dict[str, Path],
    database_url: str,
    change: Callable[[str], str],
    params: dict[str, str],
) -> None:
    async with calling(roots, database_url) as (_, http):
        for owner in ("u2", "u3"):
            assert (await http.post(OPEN, json={**NEW_ACCOUNT, "owner": owner})).status_code == 201
        cursor = await _first_page(http)
        assert (await http.get(ACCOUNTS, params={"limit": 1, "cursor": cursor})).status_code == 200
        reply = await http.get(ACCOUNTS, params={"limit": 1, "cursor": change(cursor), **params})
    problem = assert_problem(reply, 400, "invalid-cursor")
    entry_for(problem, "cursor")


IDEMPOTENCY_REUSES: list[tuple[str, str, dict[str, object], bool]] = [
    ("another-payload", DEPOSIT, {"amount": "2"}, False),
    ("another-aggregate", DEPOSIT, {"amount": "1"}, True),
    ("another-command", "/banking:withdraw/account/{id}", {"amount": "1"}, False),
]


@pytest.mark.parametrize(
    ("path", "payload", "other_account"),
    [(path, payload, other) for _, path, payload, other in IDEMPOTENCY_REUSES],
    ids=[name for name, *_ in IDEMPOTENCY_REUSES],
)
async def test_an_idempotency_key_reused_for_another_request_is_refused(
    roots: dict[str, Path],
    database_url: str,
    path: str,
    payload: dict[str, object],
    other_account: bool,
) -> None:
    key = {"Idempotency-Key": "deposit-0001"}
    async with calling(roots, database_url) as (seeded_id, http):
        first_path = DEPOSIT.replace("{id}", seeded_id)
        first = await http.post(first_path, json={"amount": "1"}, headers=key)
        assert first.status_code == 200, first.text
        replayed = await http.post(first_path, json={"amount": "1"}, headers=key)
        assert replayed.status_code == 200, replayed.text
        assert replayed.headers.get("idempotent-replayed") == "true"
        target = seeded_id
        if other_account:
            opened = await http.post(OPEN, json={**NEW_ACCOUNT, "owner": "u2"})
            target = opened.json()["data"]["id"]
        reply = await http.post(path.replace("{id}", target), json=payload, headers=key)
        history = await http.get(HISTORY.replace("{id}", seeded_id))
    assert_problem(reply, 422, "idempotency-key-reused")
    assert [event["name"] for event in history.json()["data"]] == [
        "account-opened",
        "money-deposited",
    ]


async def test_history_after_its_documented_maximum_is_an_empty_page(
    roots: dict[str, Path], database_url: str
) -> None:
    async with calling(roots, database_url) as (seeded_id, http):
        reply = await http.get(HISTORY.replace("{id}", seeded_id), params={"after": 2**31 - 1})
        assert reply.status_code == 200, reply.text
        assert reply.json()["data"] == []
        beyond = await http.get(HISTORY.replace("{id}", seeded_id), params={"after": 2**31})
    entry_for(assert_problem(beyond, 422, "invalid-request"), "query.after")
