"""Resuming with `after`, late commits, and two instances on one database: every subscriber
receives each event once, in increasing positions, with no gap."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from fluvius.data import Database, EventStore
from fluvius.domain import EventMetadata
from fluvius.fastapi.live import feed, hub
from fluvius.service import Service
from fluvius.settings import Settings
from tests.conftest import BACKENDS
from tests.live.server import Served, receive, serve, subscribe
from tests.live.service import RESOURCE
from tests.live.test_websocket import deposit_to, open_account
from tests.runtime.bank import AccountOpened, log
from tests.services import POSTGRES_URL

WRITERS = 6
DEPOSITS = 20


async def positions_after(settings: Settings, start: int) -> list[int]:
    """Every position in the log after `start`, as committed."""
    database = Database(settings.database_url)
    try:
        async with database.read.connect() as connection:
            query = select(log.events.c.position).where(log.events.c.position > start)
            return sorted((await connection.execute(query)).scalars())
    finally:
        await database.dispose()


async def reconnecting(instances: list[Served], last: asyncio.Future[int]) -> list[int]:
    """Positions received by a client that reconnects, with `after`, to one instance then
    another every few events, until it has the `last` position."""
    received: list[int] = [0]
    while not (last.done() and received[-1] >= last.result()):
        served = random.choice(instances)
        async with served.socket(served.token("teller")) as ws:
            await subscribe(ws, id="all", resource=RESOURCE, after=received[-1])
            with contextlib.suppress(TimeoutError):
                for _ in range(random.randint(1, 15)):
                    received.append((await receive(ws, within=1))["position"])
    return received[1:]


async def test_resuming_under_concurrent_commands_on_two_instances_loses_and_repeats_nothing(
    service: Service, settings: Settings
) -> None:
    async with (
        serve(service, settings) as first,
        serve(service, settings) as second,
        contextlib.AsyncExitStack() as stack,
    ):
        instances = [first, second]
        accounts = [await open_account(first, f"owner-{n}") for n in range(WRITERS)]
        start = (await positions_after(settings, 0))[-1]
        last: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        listeners = [asyncio.create_task(reconnecting(instances, last)) for _ in range(2)]
        live = []
        for served in instances:
            ws = await stack.enter_async_context(served.socket(served.token("teller")))
            await subscribe(ws, id="all", resource=RESOURCE, after=start)
            live.append(ws)

        async def write(index: int) -> None:
            for _ in range(DEPOSITS):
                await deposit_to(instances[index % 2], random.choice(accounts))

        await asyncio.gather(*(write(n) for n in range(WRITERS)))
        expected = await positions_after(settings, start)
        assert len(expected) == WRITERS * DEPOSITS
        last.set_result(expected[-1])
        for ws in live:
            received = [(await receive(ws))["position"] for _ in expected]
            assert received == expected, "each instance delivers every event once, in order"
        for listener in listeners:
            received = [p for p in await listener if p > start]
            assert received == expected, "reconnecting with after: no gap, no duplicate"


@pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
async def test_a_late_commit_is_delivered_in_position_order(
    service: Service, settings: Settings
) -> None:
    """On PostgreSQL only: on SQLite writers are serialised, and nothing commits late."""
    async with serve(service, settings) as served, served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="all", resource=RESOURCE)
        database = Database(settings.database_url)
        late = uuid.uuid4()
        try:
            async with database.transaction() as transaction:
                store = EventStore(transaction.connection, log, driver=transaction.driver)
                opened = AccountOpened(owner="late", initial_deposit=Decimal(3))
                [held] = await store.append("account", late, 0, [opened], EventMetadata(), _now())
                # a later position commits first, and waits for the held one
                early = await open_account(served, "early")
                with pytest.raises(TimeoutError):
                    await receive(ws, within=1)
        finally:
            await database.dispose()
        first, second = await receive(ws), await receive(ws)
    assert (first["position"], first["event"]["aggregate_id"]) == (held.position, str(late))
    assert first["state"]["balance"] == "3"
    assert second["event"]["aggregate_id"] == early
    assert second["position"] > first["position"]


@pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
async def test_an_event_of_the_newest_transaction_is_not_skipped_while_it_is_open(
    service: Service, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL: a snapshot does not list a running transaction whose id is above every
    completed one, so the feed cannot tell from snapshots that such an appender is still open;
    it polls while one is, and delivers the event once it commits."""
    monkeypatch.setattr(feed, "IDLE_POLL_S", 0.05)
    database = Database(settings.database_url)
    late = uuid.uuid4()
    try:
        async with serve(service, settings) as served, served.socket(served.token("teller")) as ws:
            await subscribe(ws, id="all", resource=RESOURCE)
            async with database.transaction() as transaction:
                store = EventStore(transaction.connection, log, driver=transaction.driver)
                opened = AccountOpened(owner="late", initial_deposit=Decimal(3))
                await store.append("account", late, 0, [opened], EventMetadata(), _now())
                await asyncio.sleep(0.5)  # the feed reads the log meanwhile
            received = await receive(ws, within=10)
    finally:
        await database.dispose()
    assert received["event"]["aggregate_id"] == str(late)


@pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
async def test_transactions_appending_to_no_log_do_not_hold_the_feed_back(
    service: Service, settings: Settings
) -> None:
    """On PostgreSQL: a write transaction in another database of the server (a bulk load, a
    CREATE DATABASE) or one in this database that appends no event stays open, and the feed
    still delivers."""
    elsewhere, here = Database(POSTGRES_URL), Database(settings.database_url)
    try:
        async with (
            serve(service, settings) as served,
            served.socket(served.token("teller")) as ws,
            elsewhere.write.connect() as other_database,
            here.write.connect() as no_event,
        ):
            await subscribe(ws, id="all", resource=RESOURCE)
            for open_transaction in (other_database, no_event):  # each takes an id, and waits
                await open_transaction.execute(text("SELECT pg_current_xact_id()"))
            account = await open_account(served, "ann")
            received = await receive(ws, within=10)
    finally:
        await elsewhere.dispose()
        await here.dispose()
    assert received["event"]["aggregate_id"] == account


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
async def test_a_commit_on_one_instance_wakes_the_feed_of_another(
    service: Service, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL, by NOTIFY: with the feeds' idle polling off, the event still arrives."""
    monkeypatch.setattr(feed, "IDLE_POLL_S", 3600.0)
    async with (
        serve(service, settings) as first,
        serve(service, settings) as second,
        second.socket(second.token("teller")) as ws,
    ):
        await subscribe(ws, id="all", resource=RESOURCE)
        account = await open_account(first, "ann")
        received = await receive(ws, within=30)
    assert received["event"]["aggregate_id"] == account


async def test_a_feed_stops_once_idle_and_a_later_subscriber_resumes_across_the_stop(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed nobody subscribes to stops reading; the next subscription starts a new one, and
    `after` replays what was committed while none ran."""
    monkeypatch.setattr(hub, "IDLE_FEED_S", 0.1)
    live = served.app.state.runtime.live
    account = await open_account(served, "ann")
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="s1", resource=RESOURCE, aggregate_id=account)
        await deposit_to(served, account)
        seen = (await receive(ws))["position"]
        assert live.feeds
        await ws.send(json.dumps({"type": "unsubscribe", "id": "s1"}))
        assert (await receive(ws))["type"] == "unsubscribed"
        await asyncio.sleep(0.5)
        assert not live.feeds
        await deposit_to(served, account, "2")
        await subscribe(ws, id="s2", resource=RESOURCE, aggregate_id=account, after=seen)
        await deposit_to(served, account, "3")
        replayed, live_one = await receive(ws), await receive(ws)
    assert [replayed["state"]["balance"], live_one["state"]["balance"]] == ["3", "6"]
    assert seen < replayed["position"] < live_one["position"]
