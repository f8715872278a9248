"""Live views: `/live` subscriptions to a view and its rows' server-sent events, fed by the
view's change log as its projector writes it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from fluvius.data import Database, changes
from fluvius.fastapi.live import feed
from fluvius.service import Service
from fluvius.settings import Settings
from tests.conftest import BACKENDS
from tests.live.server import Served, receive, serve, subscribe
from tests.live.service import VIEW, live_bank_with_a_view, view_metadata
from tests.live.test_sse import events
from tests.live.test_websocket import deposit_to, open_account
from tests.tables import create_all


@pytest.fixture
async def service() -> Service:
    return live_bank_with_a_view()


@pytest.fixture
async def settings(settings: Settings, database_url: str) -> Settings:
    """The bank's settings and tables, the view's table, and its projector in the API's
    process (`fluvius run`'s default)."""
    database = Database(database_url)
    await create_all(database, (view_metadata,))
    await database.dispose()
    return dataclasses.replace(settings, workers_in_process=True, worker_poll_s=0.05)


async def changes_of(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await receive(ws) for _ in range(count)]


async def projected(served: Served, account: str, deposits: int = 0) -> None:
    """Wait until the view's row of `account` counts `deposits` (its projector runs apart)."""
    async with served.http() as http:
        for _ in range(600):
            reply = await http.get(f"/{VIEW}/{account}")
            if reply.status_code == 200 and reply.json()["data"]["deposits"] == deposits:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"no row for {account} with {deposits} deposits")


async def test_a_view_subscriber_receives_each_change_with_the_row_after_it(
    served: Served,
) -> None:
    async with served.socket(served.token("teller")) as ws:
        assert await subscribe(ws, id="v", resource=VIEW) == {
            "type": "subscribed",
            "id": "v",
            "position": 0,
        }
        account = await open_account(served, "ann")
        await deposit_to(served, account, "2.50")
        await deposit_to(served, account, "1")
        opened, first, second = await changes_of(ws, 3)
    assert [m["position"] for m in (opened, first, second)] == [1, 2, 3]
    assert opened["subscription"] == "v"
    assert opened["event"] == {**opened["event"], "name": "account-opened", "version": 1}
    assert opened["event"]["aggregate_id"] == account
    assert opened["state"] == {"account": account, "owner": "ann", "deposits": 0, "total": "0"}
    assert first["event"]["data"] == {"amount": "2.50"}
    assert first["state"] == {"account": account, "owner": "ann", "deposits": 1, "total": "2.50"}
    assert second["state"]["total"] == "3.50"
    async with served.http() as http:
        row = (await http.get(f"/{VIEW}/{account}")).json()["data"]
    assert row == second["state"]


async def test_a_customer_receives_its_own_rows_and_a_key_or_filter_narrows_them(
    served: Served,
) -> None:
    ann, bob = await open_account(served, "ann"), await open_account(served, "bob")
    await projected(served, ann)
    await projected(served, bob)
    async with served.socket(served.token("customer", "ann")) as ws:
        await subscribe(ws, id="all", resource=VIEW)
        async with served.socket(served.token("teller")) as teller:
            await subscribe(teller, id="bob", resource=VIEW, key=bob)
            await subscribe(teller, id="big", resource=VIEW, query={"total.gte": 5})
            for account, amount in ((bob, "7"), (ann, "1"), (ann, "9")):
                await deposit_to(served, account, amount)
            to_teller = await changes_of(teller, 3)
        mine = await changes_of(ws, 2)
    assert [m["state"]["total"] for m in mine] == ["1", "10"]
    assert {m["state"]["owner"] for m in mine} == {"ann"}
    assert sorted((m["subscription"], m["state"]["total"]) for m in to_teller) == [
        ("big", "10"),
        ("big", "7"),
        ("bob", "7"),
    ]


async def test_a_deletion_arrives_with_a_null_state_to_who_could_read_the_row(
    served: Served,
) -> None:
    ann = await open_account(served, "ann")
    await projected(served, ann)
    async with (
        served.socket(served.token("customer", "ann")) as mine,
        served.socket(served.token("customer", "bob")) as other,
    ):
        await subscribe(mine, id="m", resource=VIEW)
        await subscribe(other, id="o", resource=VIEW)
        async with served.http() as http:
            closed = await http.post(f"/banking:close-account/account/{ann}", json={})
        assert closed.status_code == 200, closed.text
        deleted = await receive(mine)
        await other.send(json.dumps({"type": "unsubscribe", "id": "o"}))
        assert await receive(other) == {"type": "unsubscribed", "id": "o"}
    assert deleted["state"] is None, deleted
    assert deleted["event"]["name"] == "account-closed"
    async with served.http() as http:
        assert (await http.get(f"/{VIEW}/{ann}")).status_code == 404


async def test_resuming_with_after_replays_what_was_missed_then_goes_on(served: Served) -> None:
    account = await open_account(served, "ann")
    await projected(served, account)
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="v", resource=VIEW, key=account)
        await deposit_to(served, account)
        last = (await receive(ws))["position"]
    for _ in range(3):
        await deposit_to(served, account)
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="v", resource=VIEW, key=account, after=last)
        missed = await changes_of(ws, 3)
        await deposit_to(served, account)
        live = await receive(ws)
    positions = [m["position"] for m in (*missed, live)]
    assert positions == [last + 1, last + 2, last + 3, last + 4]
    assert [m["state"]["deposits"] for m in (*missed, live)] == [2, 3, 4, 5]


async def test_resuming_from_a_pruned_position_is_refused_410(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "KEPT", 2)
    monkeypatch.setattr(changes, "PRUNE_EVERY", 1)
    account = await open_account(served, "ann")
    for _ in range(4):
        await deposit_to(served, account)
    await projected(served, account, deposits=4)
    async with served.http() as http:
        kept = (await http.get(f"/{VIEW}/{account}/events")).json()["data"]
        stream = await http.get(
            f"/{VIEW}/{account}/events?follow=true", headers={"Last-Event-ID": "1"}
        )
    assert [change["position"] for change in kept] == [4, 5]
    assert stream.status_code == 410
    assert stream.json()["code"] == "resume-expired"
    async with served.socket(served.token("teller")) as ws:
        refused = await subscribe(ws, id="v", resource=VIEW, after=1)
        accepted = await subscribe(ws, id="w", resource=VIEW, after=3)
    assert refused["type"] == "error"
    assert (refused["problem"]["status"], refused["problem"]["code"]) == (410, "resume-expired")
    assert accepted["type"] == "subscribed"


async def test_a_view_row_streams_as_server_sent_events(served: Served) -> None:
    account = await open_account(served, "ann")
    await deposit_to(served, account, "3")
    await projected(served, account, deposits=1)
    url = f"/{VIEW}/{account}/events?follow=true"
    async with served.http() as http:
        async with http.stream("GET", url) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = await events(stream.aiter_lines(), 2)
        resume = {"Last-Event-ID": str(first[0][0])}
        async with http.stream("GET", url, headers=resume) as stream:
            await deposit_to(served, account, "4")
            rest = await events(stream.aiter_lines(), 2)
        async with served.http("customer", "bob") as bob:
            assert (await bob.get(f"/{VIEW}/{account}/events")).json()["data"] == []
            assert (await bob.get(url)).status_code == 404
        assert (await http.get(f"/{VIEW}/nobody/events?follow=true")).status_code == 404
    totals = [data["state"]["total"] for _, data in first + rest]
    assert totals == ["0", "3", "3", "7"]
    assert [event_id for event_id, _ in rest] == [2, 3]


async def test_a_view_picks_rows_by_key_not_aggregate_id(served: Served) -> None:
    async with served.socket(served.token("teller")) as ws:
        wrong = await subscribe(ws, id="v", resource=VIEW, aggregate_id="x")
    assert wrong["problem"]["code"] == "invalid-message"
    assert "key" in wrong["problem"]["detail"]


@pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
async def test_changes_projected_by_another_instance_wake_the_feed(
    service: Service, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The projector runs in one instance; another, with its feeds' idle polling off, serves
    the subscriber: the change log's NOTIFY wakes it."""
    monkeypatch.setattr(feed, "IDLE_POLL_S", 3600.0)
    reader = dataclasses.replace(settings, workers_in_process=False)
    async with (
        serve(service, settings) as writer,
        serve(service, reader) as subscriber,
        subscriber.socket(subscriber.token("teller")) as ws,
    ):
        await subscribe(ws, id="v", resource=VIEW)
        account = await open_account(writer, "ann")
        change = await receive(ws, within=10)
    assert change["state"]["account"] == account
