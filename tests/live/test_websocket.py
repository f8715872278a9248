"""`/live`: subscribing, what each caller receives, and the protocol's errors and limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from fluvius.data import Database, EventStore, horizon
from fluvius.domain import EventMetadata
from fluvius.fastapi.live import states, websocket
from tests.live.server import Served, closed_with, receive, subscribe
from tests.live.service import OPEN, RESOURCE, deposit
from tests.runtime.bank import AccountState, MoneyDeposited, log


async def open_account(served: Served, owner: str, amount: str = "0") -> str:
    async with served.http() as http:
        reply = await http.post(OPEN, json={"owner": owner, "initial_deposit": amount})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["data"]["id"])


async def deposit_to(served: Served, account: str, amount: str = "1") -> None:
    async with served.http() as http:
        reply = await http.post(deposit(account), json={"amount": amount})
    assert reply.status_code == 200, reply.text


async def reauthenticate(ws: ClientConnection, token: str) -> None:
    """Send a fresh `auth` and wait until it is handled: `auth` has no reply, but a connection
    handles its messages in order, so the reply to the one after it follows its effect."""
    await ws.send(json.dumps({"type": "auth", "token": token}))
    await ws.send(json.dumps({"type": "unsubscribe", "id": "barrier"}))
    assert (await receive(ws))["problem"]["code"] == "unknown-subscription"


async def test_a_subscriber_receives_each_event_with_the_row_after_it(served: Served) -> None:
    async with served.socket(served.token("teller")) as ws:
        subscribed = await subscribe(ws, id="s1", resource=RESOURCE)
        assert subscribed == {"type": "subscribed", "id": "s1", "position": 0}
        account = await open_account(served, "ann", "5")
        await deposit_to(served, account, "2.50")
        opened, deposited = await receive(ws), await receive(ws)
    assert opened["type"] == "event"
    assert opened["subscription"] == "s1"
    assert opened["event"]["name"] == "account-opened"
    assert opened["event"]["aggregate_id"] == account
    assert opened["event"]["version"] == 1
    assert opened["state"]["balance"] == "5"
    assert opened["state"]["owner"] == "ann"
    assert deposited["event"]["data"] == {"amount": "2.50"}
    assert deposited["state"]["balance"] == "7.50"
    assert deposited["state"]["version"] == 2
    assert deposited["position"] > opened["position"]


async def test_commands_of_the_process_reach_its_feed_without_reading_the_log_or_folding(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a command of this process committed is handed to the feed (`CommitSignals.written`)
    with the state after it: at consecutive positions, the feed offers it as it is."""

    async def unread(*_: object, **__: object) -> list[object]:
        return []

    def unused(*_: object) -> None:
        raise AssertionError("the feed folded an event its process wrote")

    monkeypatch.setattr(horizon.SettledLog, "read", unread)
    monkeypatch.setattr(states, "_applied", unused)
    async with served.socket(served.token("teller")) as ws:
        assert (await subscribe(ws, id="s1", resource=RESOURCE))["type"] == "subscribed"
        account = await open_account(served, "ann", "5")
        await deposit_to(served, account, "2")
        await deposit_to(served, account, "3")
        received = [await receive(ws) for _ in range(3)]
    assert [m["state"]["balance"] for m in received] == ["5", "7", "10"]
    assert [m["state"]["version"] for m in received] == [1, 2, 3]


class Abandoned(Exception):
    """Raised to roll a transaction back."""


async def abandon_a_deposit(database: Database, account: str) -> None:
    """Append a deposit to `account`, hand it over, and roll it back."""
    state = AccountState(id=uuid.UUID(account), version=2, owner="ann", balance=Decimal(1005))
    deposited = MoneyDeposited(amount=Decimal(1000))
    async with database.transaction() as transaction:
        store = EventStore(transaction.connection, log, driver=transaction.driver)
        now = dt.datetime.now(dt.UTC)
        unborn = await store.append(
            "account", uuid.UUID(account), 1, [deposited], EventMetadata(), now
        )
        transaction.hand_over(log.channel, unborn, state)
        raise Abandoned


async def test_a_transaction_that_rolls_back_hands_nothing_over(served: Served) -> None:
    """Events are handed over once their transaction commits: one that rolls back reaches no
    one, although on SQLite the next event takes its position."""
    account = await open_account(served, "ann", "5")
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="s1", resource=RESOURCE, aggregate_id=account)
        with pytest.raises(Abandoned):
            await abandon_a_deposit(served.app.state.runtime.database, account)
        await deposit_to(served, account, "2")
        received = await receive(ws)
    assert received["event"]["data"] == {"amount": "2"}
    assert received["state"]["balance"] == "7"


async def test_the_token_may_come_in_the_header(served: Served) -> None:
    async with served.socket(served.token("teller"), header=True) as ws:
        assert (await subscribe(ws, id="s1", resource=RESOURCE))["type"] == "subscribed"


async def test_a_customer_receives_only_its_own_accounts(served: Served) -> None:
    async with served.socket(served.token("customer", sub="ann")) as ws:
        assert (await subscribe(ws, id="mine", resource=RESOURCE))["type"] == "subscribed"
        bob = await open_account(served, "bob")
        ann = await open_account(served, "ann")
        await deposit_to(served, bob)
        await deposit_to(served, ann)
        received = [await receive(ws), await receive(ws)]
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.5)
    assert [m["event"]["aggregate_id"] for m in received] == [ann, ann]
    assert {m["state"]["owner"] for m in received} == {"ann"}


async def test_a_filter_and_an_aggregate_id_select_events(served: Served) -> None:
    rich, poor = await open_account(served, "ann", "100"), await open_account(served, "bob")
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="rich", resource=RESOURCE, query={"balance.gt": 50})
        await subscribe(ws, id="poor", resource=RESOURCE, aggregate_id=poor)
        await deposit_to(served, poor, "1")
        await deposit_to(served, rich, "1")
        got = sorted([await receive(ws), await receive(ws)], key=lambda m: m["position"])
    assert [(m["subscription"], m["event"]["aggregate_id"]) for m in got] == [
        ("poor", poor),
        ("rich", rich),
    ]


async def test_unsubscribing_ends_a_subscription(served: Served) -> None:
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="s1", resource=RESOURCE)
        await ws.send(json.dumps({"type": "unsubscribe", "id": "s1"}))
        assert await receive(ws) == {"type": "unsubscribed", "id": "s1"}
        await open_account(served, "ann")
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.5)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "subscribe", "id": "s", "resource": "banking.nothing"}, "unknown-resource"),
        (
            {"type": "subscribe", "id": "s", "resource": RESOURCE, "query": {"x": 1}},
            "unknown-field",
        ),
        (
            {"type": "subscribe", "id": "s", "resource": RESOURCE, "query": {"balance.gt": "a"}},
            "invalid-value",
        ),
        ({"type": "subscribe", "id": "s", "resource": RESOURCE, "after": -1}, "invalid-message"),
        (
            {"type": "subscribe", "id": "s", "resource": RESOURCE, "aggregate_id": 7},
            "invalid-message",
        ),
        ({"type": "subscribe", "id": "", "resource": RESOURCE}, "invalid-message"),
        ({"type": "dance"}, "unknown-message-type"),
        ({"type": "unsubscribe", "id": "never"}, "unknown-subscription"),
    ],
)
async def test_a_bad_message_gets_an_error_with_a_problem(
    served: Served, message: dict[str, Any], code: str
) -> None:
    async with served.socket(served.token("teller")) as ws:
        await ws.send(json.dumps(message))
        reply = await receive(ws)
        assert reply["type"] == "error"
        assert reply["problem"]["code"] == code
        assert 400 <= reply["problem"]["status"] < 500
        assert reply["problem"]["title"]
        # the connection stays open and usable
        assert (await subscribe(ws, id="ok", resource=RESOURCE))["type"] == "subscribed"


async def test_malformed_json_and_binary_frames_get_errors(served: Served) -> None:
    async with served.socket(served.token("teller")) as ws:
        for frame in ("{not json", "[1, 2]", b"\x00\x01"):
            await ws.send(frame)
            reply = await receive(ws)
            assert reply["type"] == "error"
            assert reply["problem"]["code"] == "invalid-message"


async def test_a_caller_without_read_gets_a_forbidden_problem(served: Served) -> None:
    async with served.socket(served.token("auditor")) as ws:
        reply = await subscribe(ws, id="s1", resource=RESOURCE)
    assert reply["type"] == "error"
    assert reply["id"] == "s1"
    assert reply["problem"]["status"] == 403
    assert reply["problem"]["code"] == "forbidden"


async def test_a_repeated_id_and_too_many_subscriptions_are_refused(served: Served) -> None:
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="s0", resource=RESOURCE)
        assert (await subscribe(ws, id="s0", resource=RESOURCE))["problem"]["code"] == (
            "subscription-exists"
        )
        for number in range(1, 100):
            assert (await subscribe(ws, id=f"s{number}", resource=RESOURCE))["type"] == "subscribed"
        refused = await subscribe(ws, id="s100", resource=RESOURCE)
    assert refused["problem"]["code"] == "too-many-subscriptions"


async def test_an_anonymous_subscribe_gets_the_401_of_a_get_until_auth(served: Served) -> None:
    async with served.socket() as ws:
        refused = await subscribe(ws, id="s1", resource=RESOURCE)
        assert refused["type"] == "error"
        assert refused["id"] == "s1"
        assert refused["problem"]["status"] == 401
        assert refused["problem"]["code"] == "unauthenticated"
        await ws.send(json.dumps({"type": "auth", "token": served.token("teller")}))
        assert (await subscribe(ws, id="s1", resource=RESOURCE))["type"] == "subscribed"
        account = await open_account(served, "ann")
        assert (await receive(ws))["event"]["aggregate_id"] == account


async def test_a_bad_token_closes_4401(served: Served) -> None:
    async with served.socket("not-a-token") as ws:
        assert (await receive(ws))["problem"]["code"] == "unauthenticated"
        assert await closed_with(ws) == 4401


async def test_silence_after_connecting_closes_4401(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket, "AUTH_TIMEOUT_S", 0.5)
    async with served.socket() as ws:
        assert await closed_with(ws) == 4401


async def test_an_expiring_token_closes_4440_unless_renewed(served: Served) -> None:
    short = dt.timedelta(seconds=2)
    async with served.socket(served.token("teller", ttl=short)) as ws:
        await subscribe(ws, id="s1", resource=RESOURCE)
        await ws.send(json.dumps({"type": "auth", "token": served.token("teller", ttl=short * 3)}))
        await asyncio.sleep(2.5)  # past the first token's expiry: still open
        assert (await subscribe(ws, id="s2", resource=RESOURCE))["type"] == "subscribed"
        assert await closed_with(ws) == 4440
    async with served.socket(served.token("teller", ttl=short)) as ws:
        other = served.token("teller", sub="someone-else")
        await ws.send(json.dumps({"type": "auth", "token": other}))
        assert await closed_with(ws) == 4403


async def test_a_fresh_token_without_the_role_ends_its_subscriptions(served: Served) -> None:
    async with served.socket(served.token("teller")) as ws:
        await subscribe(ws, id="s1", resource=RESOURCE)
        await ws.send(json.dumps({"type": "auth", "token": served.token("auditor")}))
        ended = await receive(ws)
        assert ended["type"] == "error"
        assert ended["id"] == "s1"
        assert ended["problem"]["status"] == 403
        assert ended["problem"]["code"] == "forbidden"
        await open_account(served, "ann")
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.5)
        await ws.send(json.dumps({"type": "unsubscribe", "id": "s1"}))
        assert (await receive(ws))["problem"]["code"] == "unknown-subscription"


async def test_a_fresh_token_keeps_its_subscriptions_with_its_own_scope(served: Served) -> None:
    async with served.socket(served.token("teller", sub="ann")) as ws:
        await subscribe(ws, id="s1", resource=RESOURCE)
        await ws.send(json.dumps({"type": "auth", "token": served.token("teller", sub="ann")}))
        first = await open_account(served, "bob")
        assert (await receive(ws))["event"]["aggregate_id"] == first
        # a customer reads its own accounts only: the subscription stays, narrowed
        await reauthenticate(ws, served.token("customer", sub="ann"))
        bob, ann = await open_account(served, "bob"), await open_account(served, "ann")
        received = await receive(ws)
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.5)
    assert received["subscription"] == "s1"
    assert received["event"]["aggregate_id"] == ann != bob


async def test_huge_messages_close_1009_and_storms_close_4429(served: Served) -> None:
    async with served.socket(served.token("teller")) as ws:
        await ws.send(json.dumps({"type": "unsubscribe", "id": "x" * 20_000}))
        assert await closed_with(ws) == 1009
    async with served.socket(served.token("teller")) as ws:
        for number in range(500):
            await ws.send(json.dumps({"type": "subscribe", "id": f"s{number}", "resource": "x"}))
        assert await closed_with(ws) == 4429


async def test_a_slow_subscriber_is_closed_4503_and_others_go_on(served: Served) -> None:
    served.app.state.runtime.live.queue_limit = 10
    async with (
        served.socket(served.token("teller")) as slow,
        served.socket(served.token("teller")) as other,
    ):
        for number in range(20):  # each event is 20 messages for `slow`: more than its queue
            await subscribe(slow, id=f"s{number}", resource=RESOURCE)
        await subscribe(other, id="s1", resource=RESOURCE)
        account = await open_account(served, "ann")
        assert await closed_with(slow) == 4503
        await deposit_to(served, account)
        received = [await receive(other), await receive(other)]
    assert [m["event"]["version"] for m in received] == [1, 2]
