"""Views of the examples, served: rows folded from the log, queried like aggregates, read back
with a Consistency-Token, and exactly once across a `fluvius run` killed with SIGKILL."""

from __future__ import annotations

import asyncio
import secrets
import signal
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from fluvius.data.consistency import ConsistencyToken
from fluvius.data.reader import Checkpoint
from fluvius.fastapi.auth import mint_token
from fluvius.settings import Settings
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import (
    fluvius,
    fluvius_process,
    import_service,
    served,
    start_run,
    wait_until_ready,
)

pytestmark = pytest.mark.slow

OPEN = "/banking:open-account/account/:new"
SUMMARY = "/banking.owner_summary/"
WAIT_S = 60


def _opening(owner: str, deposit: str) -> dict[str, str]:
    return {"owner": owner, "initial_deposit": deposit, "opened_on": "2024-03-01"}


async def test_a_view_is_served_as_an_aggregate_is_and_honours_the_token(
    examples: dict[str, Path], database_url: str
) -> None:
    service = import_service(examples["bank"], "bank")
    async with (
        served(service, database_url, workers_in_process=True, worker_poll_s=0.05) as api,
        api.client("teller") as teller,
    ):
        for owner, deposit in (("ann", "10"), ("bob", "1"), ("ann", "5.50")):
            opened = await teller.post(OPEN, json=_opening(owner, deposit))
            assert opened.status_code == 201, opened.text
        sent = {"Consistency-Token": opened.headers["consistency-token"]}

        ann = await teller.get(f"{SUMMARY}ann", headers=sent)
        assert ann.status_code == 200, ann.text
        row = ann.json()["data"]
        assert (row["accounts"], Decimal(row["opening_deposits"])) == (2, Decimal("15.50"))

        listed = await teller.get(SUMMARY, params={"sort": "accounts.desc", "limit": 1})
        assert [r["owner"] for r in listed.json()["data"]] == ["ann"]
        assert listed.json()["pagination"]["total"] == 2
        found = await teller.get(SUMMARY, params={"query": '{"opening_deposits.lt": 2}'})
        assert [r["owner"] for r in found.json()["data"]] == ["bob"]
        bad = await teller.get(SUMMARY, params={"query": '{"nope": 1}'})
        assert bad.status_code == 400
        assert bad.headers["content-type"] == "application/problem+json"
        assert (await teller.get(f"{SUMMARY}carol")).status_code == 404

        async with api.client("customer", sub="bob") as bob:
            mine = await bob.get(SUMMARY)
            assert [r["owner"] for r in mine.json()["data"]] == ["bob"]
            assert (await bob.get(f"{SUMMARY}ann")).status_code == 404
        async with api.client("nobody") as stranger:
            assert (await stranger.get(SUMMARY)).status_code == 403

        document = (await teller.get("/openapi.json")).json()
        assert {"banking_owner_summary_list", "banking_owner_summary_get"} <= {
            operation["operationId"]
            for path in document["paths"].values()
            for operation in path.values()
        }


async def test_a_token_the_view_has_not_reached_is_a_503_and_another_domain_s_is_not_waited_for(
    examples: dict[str, Path], database_url: str
) -> None:
    service = import_service(examples["bank"], "bank")
    async with (
        served(service, database_url, consistency_wait_s=0.2) as api,  # no projector runs
        api.client("teller") as teller,
    ):
        opened = await teller.post(OPEN, json=_opening("ann", "1"))
        sent = {"Consistency-Token": opened.headers["consistency-token"]}
        behind = await teller.get(SUMMARY, headers=sent)
        assert behind.status_code == 503
        assert behind.headers["retry-after"] == "1"
        assert behind.headers["content-type"] == "application/problem+json"
        assert behind.json()["code"] == "view-behind"

        elsewhere = ConsistencyToken("ledger", Checkpoint(0, 10**9)).encode()
        answered = await teller.get(SUMMARY, headers={"Consistency-Token": elsewhere})
        assert answered.status_code == 200
        assert (await teller.get(SUMMARY)).status_code == 200


@pytest.fixture
def bank(
    projects: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Path:
    """The bank project on `database_url`, migrated, with a secret of its own."""
    monkeypatch.setenv("FLUVIUS_DATABASE_URL", database_url)
    monkeypatch.setenv("FLUVIUS_JWT_SECRET", secrets.token_urlsafe(48))
    monkeypatch.setenv("FLUVIUS_WORKER_POLL_SECONDS", "0.05")
    root = projects.copy("bank", tmp_path)
    fluvius("migrate", cwd=root)
    return root


async def test_a_projector_killed_mid_stream_applies_each_event_once(
    bank: Path, tmp_path: Path
) -> None:
    token = mint_token(Settings.load("bank", bank), "teller-1", ("teller",))
    opened = 0
    for attempt in range(2):
        log = tmp_path / f"run{attempt}.log"
        running = start_run(bank, log)
        process, base = running.process, running.base_url
        try:
            await wait_until_ready(base, process, log)
            opened += await _open_accounts(base, token, 40)
            if attempt == 0:
                process.send_signal(signal.SIGKILL)  # mid-stream: the projector is behind
                process.wait(timeout=30)
                continue
            await _until_caught_up(base, token, opened)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    verified = fluvius_process(bank, "verify", "--view", "banking.owner_summary")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "✓ view banking.owner_summary" in verified.stdout
    workers = fluvius_process(bank, "workers")
    assert "view:banking.owner_summary" in workers.stdout


async def _open_accounts(base: str, token: str, count: int) -> int:
    """Open `count` accounts of one owner, `ann`, a few at a time."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for start in range(0, count, 5):
            replies = await asyncio.gather(
                *(
                    client.post(OPEN, json=_opening("ann", "1"))
                    for _ in range(min(5, count - start))
                )
            )
            assert all(reply.status_code == 201 for reply in replies), replies[0].text
    return count


async def _until_caught_up(base: str, token: str, opened: int) -> None:
    """Wait until the view counts every account opened: never more (each event once)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        async with asyncio.timeout(WAIT_S):
            while True:
                reply = await client.get(f"{SUMMARY}ann")
                counted = reply.json()["data"]["accounts"] if reply.status_code == 200 else 0
                assert counted <= opened, "an event was applied twice"
                if counted == opened:
                    return
                await asyncio.sleep(0.1)
