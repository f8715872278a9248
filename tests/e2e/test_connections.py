"""Database connections and failures over HTTP: a busy pool, lost connections, a 500, a client
that leaves mid-body. Each reply is problem+json that names its request."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from fluvius.data import Database
from fluvius.fastapi.middleware import CLIENT_CLOSED, JsonLogFormatter
from fluvius.service import Service
from fluvius.settings import Settings, SettingsError
from fluvius.testing import api as testing
from tests.e2e.projects import import_service, served
from tests.services import POSTGRES_URL, throwaway_postgres

pytestmark = pytest.mark.slow

OPEN = "/banking:open-account/account/:new"
ACCOUNTS = "/banking.account/"
OPENING = {"owner": "ann", "initial_deposit": "10", "opened_on": "2024-03-01"}


@pytest.fixture
def bank(examples: dict[str, Path]) -> Service:
    return import_service(examples["bank"], "bank")


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """`response` is a problem of `status` and `code` whose request_id is its X-Request-ID."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def assert_answers(client: httpx.AsyncClient) -> None:
    """A command and a read succeed."""
    opened = await client.post(OPEN, json=OPENING)
    assert opened.status_code == 201, opened.text
    account = opened.json()["data"]["id"]
    deposit = await client.post(f"/banking:deposit/account/{account}", json={"amount": "1"})
    assert deposit.status_code == 200, deposit.text
    listed = await client.get(ACCOUNTS)
    assert listed.status_code == 200, listed.text


def test_the_pool_settings_come_from_the_environment(tmp_path: Path) -> None:
    chosen = {"FLUVIUS_DB_POOL_SIZE": "7", "FLUVIUS_DB_POOL_TIMEOUT_SECONDS": "0.5"}
    settings = Settings.load("bank", tmp_path, chosen)
    assert (settings.database_pool_size, settings.database_pool_timeout_s) == (7, 0.5)
    defaults = Settings.load("bank", tmp_path, {})
    assert (defaults.database_pool_size, defaults.database_pool_timeout_s) == (20, 5.0)
    with pytest.raises(SettingsError, match="FLUVIUS_DB_POOL_TIMEOUT_SECONDS must be a number"):
        Settings.load("bank", tmp_path, {"FLUVIUS_DB_POOL_TIMEOUT_SECONDS": "soon"})


# A busy pool -------------------------------------------------------------------------------


@asynccontextmanager
async def every_connection_taken(database: Database) -> AsyncIterator[None]:
    """Hold every connection of a one-connection pool: the write one in a transaction (and its
    turn, on PostgreSQL), the read one if reads have a pool of their own."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(database.transaction())
        if database.read is not database.write:
            await stack.enter_async_context(database.read.connect())
        yield


async def test_a_busy_pool_answers_503_with_retry_after_then_recovers(
    bank: Service, database_url: str
) -> None:
    async with served(bank, database_url):
        pass  # the tables
    settings = dataclasses.replace(
        testing.test_settings(bank, database_url), database_pool_size=1, database_pool_timeout_s=0.3
    )
    async with testing.serving(bank, settings) as api, api.client("teller") as teller:
        await assert_answers(teller)
        database: Database = api.app.state.runtime.database
        async with every_connection_taken(database):
            for reply in (
                await teller.get(ACCOUNTS),
                await teller.post(OPEN, json=OPENING),
            ):
                body = assert_problem(reply, 503, "database-busy")
                assert reply.headers["retry-after"] == "1"
                assert "Traceback" not in body["detail"]
        await assert_answers(teller)


@pytest.mark.postgres
async def test_a_server_out_of_connections_answers_503(bank: Service) -> None:
    async with throwaway_postgres() as url, served(bank, url), _role(url) as limited:
        settings = testing.test_settings(bank, limited)
        async with testing.serving(bank, settings) as api, api.client("teller") as teller:
            for reply in (
                await teller.get(ACCOUNTS),
                await teller.post(OPEN, json=OPENING),
            ):
                assert_problem(reply, 503, "database-busy")
                assert reply.headers["retry-after"] == "1"


@asynccontextmanager
async def _role(url: str) -> AsyncIterator[str]:
    """`url` for a new role that the server allows no connection (too many connections)."""
    name = f"fluvius_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT 0')
        yield make_url(url).set(username=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        await admin.close()


async def _admin() -> asyncpg.Connection:
    server = make_url(POSTGRES_URL).set(drivername="postgresql")
    return await asyncpg.connect(server.render_as_string(hide_password=False))


# Lost connections --------------------------------------------------------------------------


@pytest.mark.postgres
async def test_after_the_server_drops_every_connection_the_next_requests_succeed(
    bank: Service,
) -> None:
    async with (
        throwaway_postgres() as url,
        served(bank, url) as api,
        api.client("teller") as teller,
    ):
        for _ in range(3):
            await asyncio.gather(*(assert_answers(teller) for _ in range(4)))
        name = make_url(url).database
        admin = await _admin()
        try:
            terminated = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            assert terminated > 1
            for _ in range(100):
                left = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
                )
                if left == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            await admin.close()
        listed = await teller.get(ACCOUNTS)
        assert listed.status_code == 200, listed.text
        opened = await teller.post(OPEN, json=OPENING)
        assert opened.status_code == 201, opened.text
        await assert_answers(teller)


# A 500 -------------------------------------------------------------------------------------


@pytest.fixture
async def sqlite_api(bank: Service, tmp_path: Path) -> AsyncIterator[testing.Api]:
    async with served(bank, f"sqlite:///{tmp_path / 'bank.db'}") as api:
        yield api


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="fluvius")
    return caplog


async def test_an_unexpected_error_is_a_500_problem_that_names_its_request(
    sqlite_api: testing.Api, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the processor broke")

    monkeypatch.setattr(sqlite_api.app.state.runtime.processor, "execute", fail)
    async with sqlite_api.client("teller") as teller:
        named = await teller.post(OPEN, json=OPENING, headers={"X-Request-ID": "till-7-0001"})
        anonymous = await teller.post(OPEN, json=OPENING)
    body = assert_problem(named, 500, "internal-error")
    assert body["request_id"] == "till-7-0001"
    assert "the processor broke" not in named.text
    assert_problem(anonymous, 500, "internal-error")

    [error, _] = [r for r in logs.records if r.name == "fluvius.errors"]
    assert error.exc_info is not None
    line = JsonLogFormatter().format(error)
    assert '"request_id": "till-7-0001"' in line
    assert "RuntimeError: the processor broke" in line
    accesses = [r for r in logs.records if r.name == "fluvius.access"]
    assert [(r.__dict__["status"], r.__dict__["request_id"]) for r in accesses] == [
        (500, "till-7-0001"),
        (500, anonymous.headers["x-request-id"]),
    ]


# A client that leaves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8"],
    ids=["fast path", "FastAPI's path"],
)
async def test_a_client_leaving_mid_body_is_logged_as_an_abort(
    sqlite_api: testing.Api, logs: pytest.LogCaptureFixture, content_type: str
) -> None:
    headers = [
        (b"host", b"service.test"),
        (b"authorization", f"Bearer {sqlite_api.token('teller')}".encode()),
        (b"content-type", content_type.encode()),
        (b"content-length", b"100"),
        (b"x-request-id", b"gone-1"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": OPEN,
        "raw_path": OPEN.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("service.test", 80),
    }
    incoming = iter(
        [
            {"type": "http.request", "body": b'{"owner": "an', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await sqlite_api.app(scope, receive, send)

    assert sent == [], "nobody is left to answer"
    assert not [r for r in logs.records if r.levelno >= logging.WARNING]
    [access] = [r for r in logs.records if r.name == "fluvius.access"]
    assert access.__dict__["status"] == CLIENT_CLOSED
    assert access.__dict__["request_id"] == "gone-1"
    assert access.exc_info is None
    assert access.getMessage() == f"POST {OPEN} client closed the connection"
