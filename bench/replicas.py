"""Reads from a streaming replica: the list served from it against the primary, and what a
`Consistency-Token` costs a read.

A primary and one standby of its own are made for the run (`initdb`, `pg_basebackup`, on free
ports; PostgreSQL's server binaries are needed, `FLUVIUS_TEST_PG_BIN` says where). Requests go
through the bank's HTTP app in-process (httpx over ASGI), one at a time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.projects import example_project, import_service
from bench.queries import fill_accounts
from bench.report import percentile, show
from fluvius.service import Service
from fluvius.testing.api import serving, test_settings
from fluvius.testing.databases import throwaway_database
from tests.replica import Replication, replicated_postgres

ACCOUNTS = "/banking.account/"
LISTING = {"query": '{"status": "open"}', "sort": "balance.desc", "limit": "20", "page": "1"}
Row = tuple[str, float, float, str, str]  # case, p50 ms, p99 ms, from the replica, stale


@dataclass(frozen=True)
class Size:
    """Rows in the state table, and timed requests per case."""

    rows: int
    repetitions: int


FULL = Size(rows=100_000, repetitions=300)
QUICK = Size(rows=2_000, repetitions=20)


@dataclass
class Timing:
    """The latencies of one case's reads, where they were served, and how many were stale."""

    samples: list[float]
    replica: int = 0
    stale: int = 0

    def row(self, case: str) -> Row:
        count = len(self.samples)
        return (
            case,
            percentile(self.samples, 0.5),
            percentile(self.samples, 0.99),
            f"{100 * self.replica / count:.0f}%",
            f"{100 * self.stale / count:.0f}%",
        )


def main(quick: bool = False) -> None:
    """Make the primary and its standby, time each case, print the table."""
    size = QUICK if quick else FULL
    with replicated_postgres(standbys=1) as replication:
        rows = asyncio.run(_run(replication, size))
    show(
        f"Reads on a primary and its streaming standby, {size.rows:,} accounts, "
        f"{size.repetitions} requests per case, one at a time",
        ["case", "p50 ms", "p99 ms", "from replica", "stale"],
        rows,
        note="list: query={status: open}, sort=balance.desc, page 1 of 20 (counts the matches). "
        "After a deposit: the read right after the command's reply; stale = it did not show the "
        "deposit.",
    )


async def _run(replication: Replication, size: Size) -> list[Row]:
    async with throwaway_database(replication.primary.url()) as url:
        with tempfile.TemporaryDirectory() as folder:
            root = example_project("bank", Path(folder), database_url=url)
            service = import_service(root, "bank")
            await fill_accounts(url, size.rows)
            await replication.caught_up()
            replica = replication.on(replication.standbys[0], url)
            on_primary = await _time_primary(service, url, size)
            return on_primary + await _time_replica(service, url, replica, size)


async def _time_primary(service: Service, url: str, size: Size) -> list[Row]:
    async with serving(service, test_settings(service, url)) as api, api.client("teller") as teller:
        account = await _an_account(teller)
        return [
            (await _timed(size, lambda: teller.get(ACCOUNTS, params=LISTING))).row(
                "list, primary (no replica)"
            ),
            (await _timed(size, lambda: teller.get(f"{ACCOUNTS}{account}"))).row(
                "one row, primary (no replica)"
            ),
            (await _after_deposits(teller, account, size, token=False)).row(
                "one row after a deposit, primary (no replica)"
            ),
        ]


async def _time_replica(service: Service, url: str, replica: str, size: Size) -> list[Row]:
    settings = replace(test_settings(service, url), read_database_url=replica)
    async with serving(service, settings) as api, api.client("teller") as teller:
        account = await _an_account(teller)
        deposited = await _deposit(teller, account)
        token = {"Consistency-Token": deposited.headers["consistency-token"]}
        return [
            (await _timed(size, lambda: teller.get(ACCOUNTS, params=LISTING))).row("list, replica"),
            (await _timed(size, lambda: teller.get(f"{ACCOUNTS}{account}"))).row(
                "one row, replica, no token"
            ),
            (await _timed(size, lambda: teller.get(f"{ACCOUNTS}{account}", headers=token))).row(
                "one row, replica, token of an earlier write"
            ),
            (await _after_deposits(teller, account, size, token=False)).row(
                "one row after a deposit, no token"
            ),
            (await _after_deposits(teller, account, size, token=True)).row(
                "one row after a deposit, its token"
            ),
        ]


async def _an_account(teller: httpx.AsyncClient) -> str:
    reply = await teller.get(ACCOUNTS, params={"limit": "1"})
    reply.raise_for_status()
    account: str = reply.json()["data"][0]["id"]
    return account


async def _deposit(teller: httpx.AsyncClient, account: str) -> httpx.Response:
    reply = await teller.post(f"/banking:deposit/account/{account}", json={"amount": "1"})
    reply.raise_for_status()
    return reply


async def _timed(size: Size, read: Callable[[], Awaitable[httpx.Response]]) -> Timing:
    """`size.repetitions` timed runs of `read`, after a few untimed ones."""
    for _ in range(3):
        (await read()).raise_for_status()
    timing = Timing([])
    for _ in range(size.repetitions):
        started = time.perf_counter()
        reply = await read()
        timing.samples.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
        timing.replica += reply.headers.get("read-source") == "replica"
    return timing


async def _after_deposits(
    teller: httpx.AsyncClient, account: str, size: Size, *, token: bool
) -> Timing:
    """Deposits, each followed by a timed read of the account (with the deposit's token when
    `token`), counting the reads that miss the deposit."""
    timing = Timing([])
    for _ in range(size.repetitions):
        deposited = await _deposit(teller, account)
        headers = {"Consistency-Token": deposited.headers["consistency-token"]} if token else {}
        started = time.perf_counter()
        reply = await teller.get(f"{ACCOUNTS}{account}", headers=headers)
        timing.samples.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
        timing.replica += reply.headers.get("read-source") == "replica"
        timing.stale += reply.json()["data"]["version"] < deposited.json()["data"]["version"]
    return timing
