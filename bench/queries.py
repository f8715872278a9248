"""Listing the bank's accounts through the service's HTTP app, on a state table of 1,000,000 rows.

Each request goes through the whole read path in-process (httpx over ASGI): URL parsing, the token
and policy check, the query builder, SQL on PostgreSQL, and the JSON reply. Page mode (`page=`)
also counts the matching rows for its `total`; cursor mode (`cursor=`) does not.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.postgres import asyncpg_dsn, scratch_database
from bench.projects import example_project, import_service
from bench.report import percentile, show
from fluvius.testing.api import Api, serving, test_settings

PATH = "/banking.account/"
LIMIT = 20
WARMUP = 3
OPEN_BY_BALANCE = {"query": json.dumps({"status": "open"}), "sort": "balance.desc"}
OPEN_BY_OWNER = {"query": json.dumps({"status": "open"}), "sort": "owner"}
BY_ID: dict[str, str] = {}
Row = tuple[str, float, float, int]  # case, p50 ms, p99 ms, rows

# Accounts opened every 90 s or so since 2022 (UUIDv7 ids in that order), 85% open, most
# balances small; random() is seeded, so every run fills the same rows.
FILL = """
INSERT INTO banking_account
    (id, version, created_at, updated_at, owner, balance, status, opened_on)
SELECT
    (lpad(to_hex((extract(epoch FROM t.created_at) * 1000)::bigint), 12, '0') || '7'
        || substr(t.hash, 1, 3) || to_hex(8 + t.n % 4) || substr(t.hash, 4, 15))::uuid,
    1 + floor(random() ^ 2 * 40)::int,
    t.created_at,
    t.created_at + random() * interval '400 days',
    (ARRAY['ann', 'bob', 'carol', 'dan', 'erin', 'frank', 'gwen', 'hugo', 'iris', 'jack',
           'kim', 'liam', 'mia', 'noah', 'olga', 'pete'])[1 + floor(random() * 16)::int]
        || '.'
        || (ARRAY['smith', 'jones', 'brown', 'lee', 'garcia', 'martin', 'kowalski', 'nguyen',
                  'rossi', 'silva', 'müller', 'dubois'])[1 + floor(random() * 12)::int]
        || floor(random() * 5000)::int,
    round((random() ^ 3 * 50000)::numeric, 2),
    CASE WHEN t.draw < 0.85 THEN 'open' WHEN t.draw < 0.95 THEN 'frozen' ELSE 'closed' END,
    t.created_at::date
FROM (
    SELECT n, md5(n::text) AS hash, random() AS draw,
           timestamptz '2022-01-01 00:00:00+00' + n * interval '90 seconds'
               + random() * interval '80 seconds' AS created_at
    FROM generate_series(1, $1::int) AS n
) AS t
"""
# What `balance: {type: decimal, default: 0, index: true}` in the spec would generate.
BALANCE_INDEX = "CREATE INDEX ix_banking_account_balance ON banking_account (balance)"


@dataclass(frozen=True)
class Size:
    """How big a run is: rows in the table, timed requests per case, the deep page's number."""

    rows: int
    repetitions: int
    deep_page: int


FULL = Size(rows=1_000_000, repetitions=200, deep_page=1_000)
QUICK = Size(rows=10_000, repetitions=10, deep_page=100)


def main(quick: bool = False) -> None:
    """Fill the table, time each listing case, and print the table."""
    size = QUICK if quick else FULL
    rows = asyncio.run(_run(size))
    show(
        f"GET {PATH} on PostgreSQL, {size.rows:,} accounts, limit={LIMIT}, "
        f"{size.repetitions} requests per case",
        ["case", "p50 ms", "p99 ms", "rows"],
        rows,
        note="open = query={status: open} (85% of rows); page mode also counts the matches. "
        "The table has the generated indexes (id, owner) plus one on balance, as `index: true` "
        "would make.",
    )


async def _run(size: Size) -> list[Row]:
    async with scratch_database() as url:
        with tempfile.TemporaryDirectory() as folder:
            root = example_project("bank", Path(folder), database_url=url)
            service = import_service(root, "bank")
            await fill_accounts(url, size.rows)
            async with (
                serving(service, test_settings(service, url)) as api,
                api.client() as client,
            ):
                return await _cases(Lister(api, client), size)


async def fill_accounts(url: str, rows: int) -> None:
    """`rows` accounts, the balance index, and fresh statistics and visibility map."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("SELECT setseed(0.42)")
        await connection.execute(FILL, rows)
        await connection.execute(BALANCE_INDEX)
        await connection.execute("VACUUM ANALYZE banking_account")
    finally:
        await connection.close()


class Lister:
    """Listing requests as an auditor, each with a fresh token (a token lives five minutes)."""

    def __init__(self, api: Api, client: httpx.AsyncClient) -> None:
        self.api = api
        self.client = client

    def headers(self) -> dict[str, str]:
        """Headers that authenticate requests for the next few minutes."""
        return {"Authorization": f"Bearer {self.api.token('auditor')}"}

    async def page(
        self, params: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> Any:
        """The JSON reply to a listing request with `params`, authenticated by `headers`."""
        response = await self.client.get(
            PATH, params={"limit": LIMIT, **params}, headers=headers or self.headers()
        )
        response.raise_for_status()
        return response.json()

    async def cursor_to(self, listing: Mapping[str, str], page: int) -> dict[str, Any]:
        """The parameters of page `page` of `listing` by cursor, following next_cursor from 1."""
        reply = await self.page({**listing, "page": 1})
        for _ in range(page - 2):
            reply = await self.page({**listing, "cursor": reply["pagination"]["next_cursor"]})
        return {**listing, "cursor": reply["pagination"]["next_cursor"]}

    async def check_same_rows(
        self, listing: Mapping[str, str], page: int, by_cursor: Mapping[str, Any]
    ) -> None:
        """Check that page `page` of `listing` holds the same rows by number and by cursor."""
        numbered, followed = [
            [row["id"] for row in (await self.page(params))["data"]]
            for params in ({**listing, "page": page}, by_cursor)
        ]
        if numbered != followed:
            raise AssertionError(f"page {page} differs by page number and by cursor")

    async def timed(self, params: Mapping[str, Any], repetitions: int) -> tuple[float, float, int]:
        """p50 and p99 ms of `repetitions` requests for `params` after a warm-up; their rows."""
        headers = self.headers()
        for _ in range(WARMUP):
            await self.page(params, headers)
        samples = []
        for _ in range(repetitions):
            started = time.perf_counter()
            reply = await self.page(params, headers)
            samples.append((time.perf_counter() - started) * 1000)
        return percentile(samples, 0.5), percentile(samples, 0.99), len(reply["data"])


async def _cases(lister: Lister, size: Size) -> list[Row]:
    deep = f"{size.deep_page:,}"
    open_deep = await lister.cursor_to(OPEN_BY_BALANCE, size.deep_page)
    await lister.check_same_rows(OPEN_BY_BALANCE, size.deep_page, open_deep)
    cases: list[tuple[str, Mapping[str, Any]]] = [
        ("open, balance.desc: page 1", {**OPEN_BY_BALANCE, "page": 1}),
        (f"open, balance.desc: page {deep} by page", {**OPEN_BY_BALANCE, "page": size.deep_page}),
        ("open, balance.desc: page 2 by cursor", await lister.cursor_to(OPEN_BY_BALANCE, 2)),
        (f"open, balance.desc: page {deep} by cursor", open_deep),
        ("open, owner: page 1", {**OPEN_BY_OWNER, "page": 1}),
        ("all, id: page 1", {**BY_ID, "page": 1}),
        (f"all, id: page {deep} by cursor", await lister.cursor_to(BY_ID, size.deep_page)),
    ]
    return [(name, *await lister.timed(params, size.repetitions)) for name, params in cases]
