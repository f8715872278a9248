"""`fluvius run` processes on PostgreSQL. Three at default settings on one database: under load
each keeps to its connection budget, and `fluvius migrate` and `fluvius verify` still connect.
A client that leaves mid-body is one access line."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from fluvius.fastapi.auth import mint_token
from fluvius.settings import Settings
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import (
    Running,
    fluvius,
    fluvius_process,
    import_service,
    start_run,
    wait_until_ready,
)
from tests.services import POSTGRES_URL, throwaway_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

INSTANCES = 3
CLIENTS = 30  # concurrent clients per instance, more than its budget
ROUNDS = 6
MAX_CONNECTIONS = 100  # PostgreSQL's defaults
RESERVED = 3
MIGRATE_AND_VERIFY = 2  # one connection each
OPEN = "/banking:open-account/account/:new"


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with throwaway_postgres() as url:
        yield url


@pytest.fixture
def project(
    projects: ProjectFactory, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The bank project, migrated on the database, with a secret of its own."""
    monkeypatch.setenv("FLUVIUS_DATABASE_URL", database_url)
    monkeypatch.setenv("FLUVIUS_JWT_SECRET", secrets.token_urlsafe(48))
    root = projects.copy("bank", tmp_path)
    fluvius("migrate", cwd=root)
    return root


@pytest.fixture
def instances(project: Path, tmp_path: Path) -> Iterator[list[Running]]:
    started = [_start(project, tmp_path / f"instance-{n}.log") for n in range(INSTANCES)]
    try:
        yield started
    finally:
        _stop(started)


def _stop(instances: list[Running]) -> None:
    for instance in instances:
        instance.process.send_signal(signal.SIGTERM)
    for instance in instances:
        try:
            instance.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            instance.process.kill()


def _start(project: Path, log: Path) -> Running:
    """An instance at default pool settings, whatever the environment sets."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLUVIUS_DB_POOL")}
    return start_run(project, log, env=environment)


async def _ready(instance: Running) -> None:
    await wait_until_ready(instance.base_url, instance.process, instance.log)


async def _load(instance: Running, token: str) -> list[int]:
    """CLIENTS clients, each opening an account, depositing and listing ROUNDS times."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=instance.base_url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def client_loop(n: int) -> list[int]:
            statuses = []
            for _ in range(ROUNDS):
                opening = {"owner": f"c{n}", "initial_deposit": "1", "opened_on": "2024-03-01"}
                opened = await client.post(OPEN, json=opening)
                statuses.append(opened.status_code)
                if opened.status_code == 201:
                    account = opened.json()["data"]["id"]
                    deposit = f"/banking:deposit/account/{account}"
                    statuses.append((await client.post(deposit, json={"amount": "2"})).status_code)
                statuses.append((await client.get("/banking.account/")).status_code)
            return statuses

        results = await asyncio.gather(*(client_loop(n) for n in range(CLIENTS)))
    return [status for statuses in results for status in statuses]


async def _sample(database: str, done: asyncio.Event) -> dict[str, int]:
    """The most connections to `database` seen at once, per application name and in all."""
    server = make_url(POSTGRES_URL).set(drivername="postgresql")
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    peaks: dict[str, int] = {}
    try:
        while not done.is_set():
            rows = await admin.fetch(
                "SELECT application_name, count(*) AS n FROM pg_stat_activity "
                "WHERE datname = $1 GROUP BY application_name",
                database,
            )
            for row in rows:
                peaks[row["application_name"]] = max(
                    peaks.get(row["application_name"], 0), row["n"]
                )
            peaks["*"] = max(peaks.get("*", 0), sum(row["n"] for row in rows))
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    return peaks


async def test_three_instances_keep_to_their_budget_and_leave_room_for_the_cli(
    project: Path, instances: list[Running], database_url: str
) -> None:
    await asyncio.gather(*(_ready(instance) for instance in instances))
    settings = Settings.load("bank", project)
    views = len(import_service(project, "bank").views())
    # and one per view, for its projector, and one that listens for commits
    budget = settings.database_pool_size + views + 1
    assert settings.read_database_url is None
    assert INSTANCES * budget + MIGRATE_AND_VERIFY <= MAX_CONNECTIONS - RESERVED

    token = mint_token(settings, "teller-1", ("teller",))
    done = asyncio.Event()
    sampler = asyncio.create_task(_sample(make_url(database_url).database or "", done))
    try:
        loads = await asyncio.gather(*(_load(instance, token) for instance in instances))
    finally:
        done.set()
    peaks = await sampler

    for statuses in loads:
        assert set(statuses) <= {200, 201}, sorted(set(statuses))
    for instance in instances:
        name = f"fluvius:{instance.process.pid}"
        assert 0 < peaks.get(name, 0) <= budget, (name, peaks)
    assert peaks["*"] <= INSTANCES * budget, peaks

    # The instances keep their connections open; the CLI still finds room beside them.
    for verb in ("migrate", "verify"):
        finished = await asyncio.to_thread(fluvius_process, project, verb)
        assert finished.returncode == 0, finished.stdout + finished.stderr
    for instance in instances:
        assert instance.process.poll() is None
        assert "Traceback" not in instance.log.read_text()


async def test_a_client_leaving_mid_body_is_one_access_line(project: Path, tmp_path: Path) -> None:
    instance = _start(project, tmp_path / "instance.log")
    try:
        await _ready(instance)
        token = mint_token(Settings.load("bank", project), "teller-1", ("teller",))
        head = (
            f"POST {OPEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\nX-Request-ID: gone-1\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", instance.port)) as client:
            client.sendall(head.encode() + b'{"owner": "an')
            await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=instance.base_url) as after:
            assert (await after.get("/healthz")).status_code == 200
    finally:
        _stop([instance])
    lines = [json.loads(line) for line in instance.log.read_text().splitlines()]
    [gone] = [line for line in lines if line.get("request_id") == "gone-1"]
    assert gone["logger"] == "fluvius.access"
    assert gone["status"] == 499
    assert gone["message"] == f"POST {OPEN} client closed the connection"
    assert not [line for line in lines if line["level"] in ("warning", "error")], lines
