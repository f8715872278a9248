"""Views of the examples, served: rows folded from the log, queried like aggregates, read back
with a Consistency-Token, and exactly once across a `fluvius run` killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import Awaitable, Callable
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

    async def open_accounts(client: httpx.AsyncClient, count: int) -> httpx.Response:
        return await _in_fives(client, count, lambda: client.post(OPEN, json=_opening("ann", "1")))

    await _through_a_kill(bank, tmp_path, token, open_accounts, f"{SUMMARY}ann", "accounts")
    verified = fluvius_process(bank, "verify", "--view", "banking.owner_summary")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "✓ view banking.owner_summary" in verified.stdout
    workers = fluvius_process(bank, "workers")
    assert "view:banking.owner_summary" in workers.stdout


READER_LOANS = """    views:
      reader_loans:
        description: Loans per reader.
        key: reader
        fields:
          reader: {type: string, max_length: 80}
          loans: {type: integer, default: 0}
        from:
          book-lent: {key: $reader, add: {loans: 1}, set: {reader: $reader}}
        policies:
          librarian: {allow: [read]}
"""


@pytest.fixture
def lending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    """The lending spec, which no example shares, with a view appended by hand to its one
    domain: generated, on `database_url`, migrated, with a secret of its own."""
    spec = tmp_path / "lending.yaml"
    spec.write_text((Path(__file__).parent / "specs" / "lending.yaml").read_text() + READER_LOANS)
    root = tmp_path / "lending"
    fluvius("new", "project", "lending", "--spec", str(spec), "--dir", str(root))
    monkeypatch.setenv("FLUVIUS_DATABASE_URL", database_url)
    monkeypatch.setenv("FLUVIUS_JWT_SECRET", secrets.token_urlsafe(48))
    monkeypatch.setenv("FLUVIUS_WORKER_POLL_SECONDS", "0.05")
    fluvius("migrate", cwd=root)
    return root


async def test_a_held_out_spec_with_a_view_added_by_hand_serves_it_through_a_kill(
    lending: Path, tmp_path: Path
) -> None:
    root = lending
    token = mint_token(Settings.load("lending", root), "librarian-1", ("librarian",))
    book: list[str] = []

    async def lend(client: httpx.AsyncClient, count: int) -> httpx.Response:
        if not book:
            added = await client.post(
                "/library:add-book/book/:new", json={"title": "Dune", "copies": 1000}
            )
            assert added.status_code == 201, added.text
            book.append(added.json()["data"]["id"])
        lend_book = f"/library:lend-book/book/{book[0]}"
        return await _in_fives(
            client, count, lambda: client.post(lend_book, json={"reader": "ann"})
        )

    await _through_a_kill(root, tmp_path, token, lend, "/library.reader_loans/ann", "loans")
    verified = fluvius_process(root, "verify", "--view", "library.reader_loans")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "✓ view library.reader_loans" in verified.stdout


Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]  # the last reply


async def _through_a_kill(
    root: Path, tmp_path: Path, token: str, send: Send, row: str, counted: str
) -> None:
    """Serve `root` with `fluvius run`, `send` 40 commands that each add one to the view row's
    `counted`, kill the server with SIGKILL while the projector is behind, serve it again, send
    40 more and then one alone, and check that the last one's Consistency-Token reads the row
    back with all 81, and that the row settles there: never above (no event applied twice),
    never below."""
    headers = {"Authorization": f"Bearer {token}"}
    for attempt in range(2):
        log = tmp_path / f"run{attempt}.log"
        # a token read waits for the projector to catch up with what the killed run left
        running = start_run(root, log, env={**os.environ, "FLUVIUS_CONSISTENCY_WAIT": str(WAIT_S)})
        process, base = running.process, running.base_url
        try:
            await wait_until_ready(base, process, log)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
                await send(client, 40)
                if attempt == 0:
                    process.send_signal(signal.SIGKILL)  # mid-stream: the projector is behind
                    process.wait(timeout=30)
                    continue
                last = await send(client, 1)
                token_read = await client.get(
                    row, headers={"Consistency-Token": last.headers["consistency-token"]}
                )
                assert token_read.status_code == 200, token_read.text
                assert token_read.json()["data"][counted] == 81
                await _until_counted(client, row, counted, 81)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


async def _in_fives(
    client: httpx.AsyncClient, count: int, command: Callable[[], Awaitable[httpx.Response]]
) -> httpx.Response:
    """Send `command` `count` times, five at once; the last reply."""
    replies: list[httpx.Response] = []
    for start in range(0, count, 5):
        replies += await asyncio.gather(*(command() for _ in range(min(5, count - start))))
    assert all(reply.status_code in (200, 201) for reply in replies), replies[0].text
    return replies[-1]


async def _until_counted(client: httpx.AsyncClient, row: str, counted: str, expected: int) -> None:
    """Wait until the view row's `counted` is `expected`: never more (each event once)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            reply = await client.get(row)
            found = reply.json()["data"][counted] if reply.status_code == 200 else 0
            assert found <= expected, "an event was applied twice"
            if found == expected:
                return
            await asyncio.sleep(0.1)
