"""`/metrics`: behind FLUVIUS_METRICS, its numbers move as commands are sent and as the relay
and the streams catch up, and under `fluvius run --workers 2` a scrape of either process counts
the requests of both."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fluvius.fastapi.auth import mint_token
from fluvius.settings import Settings
from fluvius.worker.queues import DatabaseQueue
from fluvius.worker.relay import Relay
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, import_service, served, start_run, wait_until_ready
from tests.streams.receiver import SECRET, Receiver, receiving

pytestmark = pytest.mark.slow

OPEN = "/banking:open-account/account/:new"
OPENING = {"owner": "ann", "initial_deposit": "10", "opened_on": "2024-03-01"}
OWNER_SUMMARY = "view:banking.owner_summary:banking"  # the projector's checkpoint and reader
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


async def test_metrics_are_off_unless_the_setting_is_on(
    examples: dict[str, Path], database_url: str
) -> None:
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client() as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 404
        assert "/metrics" not in (await anonymous.get("/openapi.json")).json()["paths"]


async def test_the_numbers_move_as_commands_are_sent(
    examples: dict[str, Path], database_url: str
) -> None:
    service = import_service(examples["bank"], "bank")
    async with (
        served(service, database_url, metrics=True) as api,
        api.client("teller") as teller,
    ):
        before = await _scrape(teller)
        opened = await teller.post(OPEN, json=OPENING, headers={"Idempotency-Key": "open-1"})
        assert opened.status_code == 201
        replayed = await teller.post(OPEN, json=OPENING, headers={"Idempotency-Key": "open-1"})
        assert replayed.headers["idempotent-replayed"] == "true"
        deposit = f"/banking:deposit/account/{opened.json()['data']['id']}"
        for _ in range(3):
            assert (await teller.post(deposit, json={"amount": "5"})).status_code == 200
        stale = await teller.post(deposit, json={"amount": "5"}, headers={"If-Match": '"1"'})
        assert stale.status_code == 412
        refused = await teller.post(
            f"/banking:unfreeze-account/account/{opened.json()['data']['id']}"
        )
        assert refused.status_code == 409
        after = await _scrape(teller)

        def moved(name: str, **labels: str) -> float:
            return _value(after, name, **labels) - _value(before, name, **labels)

        commands = "fluvius_commands_total"
        assert moved(commands, command="banking:open-account", outcome="ok") == 1
        assert moved(commands, command="banking:open-account", outcome="retried") == 1
        assert moved(commands, command="banking:deposit", outcome="ok") == 3
        assert moved(commands, command="banking:deposit", outcome="conflict") == 1
        assert moved(commands, command="banking:unfreeze-account", outcome="refused") == 1
        requests = "fluvius_http_requests_total"
        on_account = "/banking:deposit/account/{id}"
        assert moved(requests, method="POST", route=OPEN, status="201") == 2
        assert moved(requests, method="POST", route=on_account, status="200") == 3
        assert moved(requests, method="POST", route=on_account, status="412") == 1
        assert moved(requests, method="GET", route="/metrics", status="200") == 1
        latency = "fluvius_http_request_duration_seconds_count"
        assert moved(latency, method="POST", route=on_account) == 4
        assert (
            _value(
                after, "fluvius_http_request_duration_seconds_sum", method="POST", route=on_account
            )
            > 0
        )
        # no workers run: the relay is behind by every event, and no job is queued yet
        lag = "fluvius_checkpoint_lag_events"
        assert _value(after, lag, checkpoint="relay:banking") == 4
        assert _value(after, lag, checkpoint=OWNER_SUMMARY) == 4
        assert _value(after, "fluvius_db_connections_in_use", engine="write") == 0

        relay = Relay(
            service,
            api.app.state.runtime.database,
            DatabaseQueue(api.app.state.runtime.database, service.tables),
        )
        read = 0
        for _ in range(100):  # on PostgreSQL an event is read once no earlier one can commit
            read += await relay.run_once()
            if read == 4:
                break
            await asyncio.sleep(0.05)
        assert read == 4
        relayed = await _scrape(teller)
        assert _value(relayed, lag, checkpoint="relay:banking") == 0
        jobs = "fluvius_jobs"
        assert _value(relayed, jobs, worker="notify-large-deposit", state="waiting") == 3
        assert _value(relayed, jobs, worker="notify-large-deposit", state="done") == 0
        unmatched = await teller.get("/no/such/route")
        assert unmatched.status_code == 404
        last = await _scrape(teller)
        assert _value(last, requests, method="GET", route="unmatched", status="404") >= 1


async def test_the_lag_of_the_relay_a_projector_and_a_stream_is_measured(
    examples: dict[str, Path], database_url: str
) -> None:
    service = import_service(examples["bank"], "bank")
    readers = ("relay:banking", OWNER_SUMMARY, "stream:money:banking")
    gives_up = Receiver(failing=5)  # a webhook's five attempts at the first event: a dead letter
    async with receiving(gives_up) as receiver:
        stream = {"FLUVIUS_STREAM_MONEY_URL": receiver.url, "FLUVIUS_STREAM_MONEY_SECRET": SECRET}
        async with (
            served(
                service,
                database_url,
                metrics=True,
                workers_in_process=True,
                worker_poll_s=0.05,
                worker_retry_base_s=0.01,
                extra=stream,
            ) as api,
            api.client("teller") as teller,
        ):
            before = await _scrape(teller)
            opened = await teller.post(OPEN, json=OPENING)
            assert opened.status_code == 201
            deposit = f"/banking:deposit/account/{opened.json()['data']['id']}"
            for _ in range(3):
                assert (await teller.post(deposit, json={"amount": "5"})).status_code == 200
            lag = "fluvius_checkpoint_lag_events"
            for _ in range(600):
                after = await _scrape(teller)
                behind = [_value(after, lag, checkpoint=name) for name in readers]
                if len(receiver.envelopes) == 2 and behind == [0, 0, 0]:
                    break
                await asyncio.sleep(0.05)
            assert len(receiver.envelopes) == 2, "the stream never published the deposits"
            assert behind == [0, 0, 0]
            summary = await teller.get("/banking.owner_summary/ann")
            assert summary.json()["data"]["accounts"] == 1  # the lag is that of rows one can read

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    for reader in readers:  # each read the four events, the projector in its view's transaction
        assert moved("fluvius_read_lag_seconds_count", reader=reader) == 4
        assert moved("fluvius_read_lag_seconds_sum", reader=reader) > 0
        assert _value(after, "fluvius_read_lag_last_seconds", reader=reader) > 0
        within = moved("fluvius_read_lag_seconds_bucket", reader=reader, le="+Inf")
        assert within == 4
    assert moved("fluvius_stream_errors_total", stream="money") == 1


@pytest.fixture
def project(projects: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bank project on SQLite, migrated, with metrics on and a secret of its own."""
    monkeypatch.delenv("FLUVIUS_DATABASE_URL", raising=False)
    monkeypatch.setenv("FLUVIUS_JWT_SECRET", secrets.token_urlsafe(48))
    monkeypatch.setenv("FLUVIUS_METRICS", "on")
    root = projects.copy("bank", tmp_path)
    fluvius("migrate", cwd=root)
    return root


async def test_two_worker_processes_add_up(project: Path, tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"  # where `fluvius run` makes its metrics directory
    temporary.mkdir()
    log = tmp_path / "run.log"
    environment = {**os.environ, "TMPDIR": str(temporary)}
    running = start_run(project, log, "--workers", "2", env=environment)
    process, base = running.process, running.base_url
    token = mint_token(Settings.load("bank", project), "teller-1", ("teller",))
    try:
        await wait_until_ready(base, process, log)
        sent = 0
        while len(_writers(temporary)) < 2 and sent < 400:  # until both processes took some
            await _open_accounts(base, token, 10)
            sent += 10
        assert len(_writers(temporary)) == 2, "one process took every request"
        for _ in range(6):  # each scrape answered by either process, on a connection of its own
            async with httpx.AsyncClient(base_url=base) as client:
                samples = _samples((await client.get("/metrics")).text)
            opened = {"command": "banking:open-account", "outcome": "ok"}
            assert _value(samples, "fluvius_commands_total", **opened) == sent
            created = {"method": "POST", "route": OPEN, "status": "201"}
            assert _value(samples, "fluvius_http_requests_total", **created) == sent
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert not any(temporary.iterdir()), "the metrics directory outlived `fluvius run`"


async def _open_accounts(base: str, token: str, count: int) -> None:
    """`count` accounts opened at once, each over a connection of its own."""

    async def open_one() -> None:
        async with httpx.AsyncClient(base_url=base) as client:
            response = await client.post(
                OPEN, json=OPENING, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 201, response.text

    await asyncio.gather(*(open_one() for _ in range(count)))


def _writers(temporary: Path) -> set[str]:
    """The processes that have counted commands: each writes a file of its own."""
    return {
        path.stem.rsplit("_", 1)[-1]
        for directory in temporary.iterdir()
        for path in directory.glob("counter_*.db")
    }
