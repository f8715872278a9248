"""Queries on real streaming replicas: served by them, read-your-writes through the consistency
token, a replica that stops is skipped, and two replicas share the reads."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fluvius.data.consistency import ConsistencyToken
from fluvius.service import Service
from fluvius.testing.api import Api, serving
from fluvius.testing.api import test_settings as api_settings
from tests.replica import Replication, Server

pytestmark = pytest.mark.postgres

OPEN = "/banking:open-account/account/:new"
ACCOUNTS = "/banking.account/"


@asynccontextmanager
async def served(
    bank: Service, url: str, replication: Replication, *replicas: Server, wait_s: float = 2.0
) -> AsyncIterator[Api]:
    """The bank on the primary's database at `url`, reading from `replicas`, with metrics."""
    settings = replace(
        api_settings(bank, url),
        read_database_url=",".join(replication.on(replica, url) for replica in replicas),
        consistency_wait_s=wait_s,
        metrics=True,
    )
    async with serving(bank, settings) as api:
        yield api


async def open_account(teller: httpx.AsyncClient, owner: str) -> tuple[str, dict[str, str]]:
    """Open an account for `owner`: its id, and the token of the reply as a request header."""
    reply = await teller.post(OPEN, json={"owner": owner, "initial_deposit": "10"})
    assert reply.status_code == 201, reply.text
    return reply.json()["data"]["id"], {"Consistency-Token": reply.headers["consistency-token"]}


async def replica_metric(client: httpx.AsyncClient, name: str) -> dict[str, float]:
    """The samples of the metric `name` at `/metrics`, by replica."""
    reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    return {
        sample.labels["replica"]: sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
        if sample.name == name
    }


@asynccontextmanager
async def replay_paused(standby: Server) -> AsyncIterator[None]:
    """`standby` receives the primary's WAL but replays none of it, for the block."""
    connection = await asyncpg.connect(standby.url())
    try:
        await connection.execute("SELECT pg_wal_replay_pause()")
        yield
    finally:
        await connection.execute("SELECT pg_wal_replay_resume()")
        await connection.close()


async def test_queries_read_the_replica_and_a_token_falls_back_to_the_primary_while_it_lags(
    bank: Service, bank_url: str, replication: Replication
) -> None:
    standby = replication.standbys[0]
    async with (
        served(bank, bank_url, replication, standby, wait_s=0.3) as api,
        api.client("teller") as teller,
    ):
        seen, _ = await open_account(teller, "ann")
        await replication.caught_up(standby)
        reply = await teller.get(f"{ACCOUNTS}{seen}")
        assert (reply.status_code, reply.headers["read-source"]) == (200, "replica")

        async with replay_paused(standby):
            unseen, token = await open_account(teller, "bob")
            assert ConsistencyToken.decode(token["Consistency-Token"]).lsn is not None
            # Only the replica can miss an acknowledged write: token-less reads are served there.
            stale = await teller.get(f"{ACCOUNTS}{unseen}")
            assert (stale.status_code, stale.headers["read-source"]) == (404, "replica")
            listed = await teller.get(ACCOUNTS)
            assert [row["owner"] for row in listed.json()["data"]] == ["ann"]
            for path in (f"{ACCOUNTS}{unseen}", ACCOUNTS, f"{ACCOUNTS}{unseen}/events"):
                fresh = await teller.get(path, headers=token)
                assert (fresh.status_code, fresh.headers["read-source"]) == (200, "primary"), path
            listed = await teller.get(ACCOUNTS, headers=token)
            assert sorted(row["owner"] for row in listed.json()["data"]) == ["ann", "bob"]
            assert (await replica_metric(teller, "fluvius_replica_lag_bytes"))["replica1"] > 0

        await replication.caught_up(standby)
        caught_up = await teller.get(f"{ACCOUNTS}{unseen}", headers=token)
        assert (caught_up.status_code, caught_up.headers["read-source"]) == (200, "replica")
        assert caught_up.json()["data"]["owner"] == "bob"


async def test_a_read_with_the_token_of_a_command_sees_its_effect_every_time_under_load(
    bank: Service, bank_url: str, replication: Replication
) -> None:
    sources: Counter[str] = Counter()
    async with (
        served(bank, bank_url, replication, *replication.standbys) as api,
        api.client("teller") as teller,
    ):

        async def write_then_read(number: int) -> None:
            account, token = await open_account(teller, f"owner{number}")
            deposit = f"/banking:deposit/account/{account}"
            reply = await teller.post(deposit, json={"amount": str(number + 1)})
            assert reply.status_code == 200, reply.text
            token = {"Consistency-Token": reply.headers["consistency-token"]}
            read = await teller.get(f"{ACCOUNTS}{account}", headers=token)
            assert read.status_code == 200, read.text
            assert read.json()["data"]["balance"] == str(10 + number + 1)
            assert read.json()["data"]["version"] == 2
            sources[read.headers["read-source"]] += 1

        await asyncio.gather(*(write_then_read(number) for number in range(100)))
    assert sum(sources.values()) == 100
    assert sources["replica"] > 0, sources


async def test_a_replica_that_stops_is_skipped_and_used_again_once_it_answers(
    bank: Service, bank_url: str, replication: Replication
) -> None:
    standby = replication.standbys[1]
    async with (
        served(bank, bank_url, replication, standby) as api,
        api.client("teller") as teller,
    ):
        account, token = await open_account(teller, "ann")
        await replication.caught_up(standby)
        assert (await teller.get(f"{ACCOUNTS}{account}")).headers["read-source"] == "replica"

        standby.stop()
        try:
            for headers in ({}, token) * 10:
                for path in (f"{ACCOUNTS}{account}", ACCOUNTS, f"{ACCOUNTS}{account}/events"):
                    reply = await teller.get(path, headers=headers)
                    assert (reply.status_code, reply.headers["read-source"]) == (200, "primary")
            assert await replica_metric(teller, "fluvius_replica_up") == {"replica1": 0}
            assert (await teller.get("/readyz")).status_code == 200  # it asks the primary
        finally:
            standby.start()

        for _ in range(200):  # its probe finds it answering within a second or so
            reply = await teller.get(f"{ACCOUNTS}{account}")
            assert reply.status_code == 200
            if reply.headers["read-source"] == "replica":
                break
            await asyncio.sleep(0.05)
        assert reply.headers["read-source"] == "replica"
        assert await replica_metric(teller, "fluvius_replica_up") == {"replica1": 1}


async def test_with_one_of_two_replicas_stopped_the_other_serves_the_reads(
    bank: Service, bank_url: str, replication: Replication
) -> None:
    first, second = replication.standbys
    async with (
        served(bank, bank_url, replication, first, second) as api,
        api.client("teller") as teller,
    ):
        account, token = await open_account(teller, "ann")
        await replication.caught_up()
        second.stop()
        try:
            for headers in ({}, token) * 10:
                reply = await teller.get(f"{ACCOUNTS}{account}", headers=headers)
                assert (reply.status_code, reply.headers["read-source"]) == (200, "replica")
            up = await replica_metric(teller, "fluvius_replica_up")
            assert up == {"replica1": 1, "replica2": 0}
        finally:
            second.start()


async def test_two_replicas_both_serve_reads(
    bank: Service, bank_url: str, replication: Replication
) -> None:
    async with (
        served(bank, bank_url, replication, *replication.standbys) as api,
        api.client("teller") as teller,
    ):
        account, _ = await open_account(teller, "ann")
        await replication.caught_up()
        for _ in range(10):
            reply = await teller.get(f"{ACCOUNTS}{account}")
            assert (reply.status_code, reply.headers["read-source"]) == (200, "replica")
        database = bank_url.rsplit("/", 1)[-1]
        for standby in replication.standbys:
            assert await _fluvius_connections(standby, database) > 0, standby


async def _fluvius_connections(server: Server, database: str) -> int:
    """How many connections fluvius holds to `database` on `server`."""
    connection = await asyncpg.connect(server.url())
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name LIKE 'fluvius:%'",
            database,
        )
        return count
    finally:
        await connection.close()
