"""A resource readable without a token, followed without one: on `/live` and as server-sent
events."""

from __future__ import annotations

import httpx
import pytest

from fluvius.service import Service
from tests.live.server import Served, receive, subscribe
from tests.live.service import RESOURCE, live_bank
from tests.live.test_sse import events, follow
from tests.live.test_websocket import deposit_to, open_account


@pytest.fixture
async def service() -> Service:
    return live_bank(public=True)


async def test_an_anonymous_connection_receives_a_public_resources_events(
    served: Served,
) -> None:
    async with served.socket() as ws:
        assert await subscribe(ws, id="s1", resource=RESOURCE) == {
            "type": "subscribed",
            "id": "s1",
            "position": 0,
        }
        account = await open_account(served, "ann", "5")
        opened = await receive(ws)
    assert opened["subscription"] == "s1"
    assert opened["event"]["aggregate_id"] == account
    assert opened["state"]["owner"] == "ann"


async def test_an_anonymous_client_follows_a_public_aggregate(served: Served) -> None:
    account = await open_account(served, "ann", "1")
    async with (
        httpx.AsyncClient(base_url=served.base_url, timeout=30) as anonymous,
        anonymous.stream("GET", follow(account)) as stream,
    ):
        assert stream.status_code == 200
        await deposit_to(served, account, "2")
        received = await events(stream.aiter_lines(), 2)
    assert [data["event"]["version"] for _, data in received] == [1, 2]
    assert received[1][1]["state"]["balance"] == "3"
