"""`GET /{domain}.{aggregate}/{id}/events?follow=true`: server-sent events, resumable."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.live.server import Served
from tests.live.test_websocket import deposit_to, open_account


async def events(lines: AsyncIterator[str], count: int) -> list[tuple[int, dict[str, Any]]]:
    """The first `count` events of a stream, as (id, data)."""
    received: list[tuple[int, dict[str, Any]]] = []
    event_id = None
    async for line in lines:
        if line.startswith("id: "):
            event_id = int(line.removeprefix("id: "))
        elif line.startswith("data: "):
            assert event_id is not None
            received.append((event_id, json.loads(line.removeprefix("data: "))))
            if len(received) == count:
                break
    return received


def follow(account: str) -> str:
    return f"/banking.account/{account}/events?follow=true"


async def test_following_streams_the_history_then_new_events(served: Served) -> None:
    account = await open_account(served, "ann", "1")
    other = await open_account(served, "bob")
    async with served.http() as http, http.stream("GET", follow(account)) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        await deposit_to(served, other)
        await deposit_to(served, account, "2")
        received = await events(stream.aiter_lines(), 2)
    assert [data["event"]["version"] for _, data in received] == [1, 2]
    assert [data["event"]["aggregate_id"] for _, data in received] == [account, account]
    assert received[1][1]["state"]["balance"] == "3"
    assert [event_id for event_id, _ in received] == [data["position"] for _, data in received]


async def test_last_event_id_resumes_after_that_position(served: Served) -> None:
    account = await open_account(served, "ann")
    for _ in range(3):
        await deposit_to(served, account)
    async with served.http() as http:
        async with http.stream("GET", follow(account)) as stream:
            first = await events(stream.aiter_lines(), 2)
        resume = {"Last-Event-ID": str(first[-1][0])}
        async with http.stream("GET", follow(account), headers=resume) as stream:
            rest = await events(stream.aiter_lines(), 2)
    assert [data["event"]["version"] for _, data in first + rest] == [1, 2, 3, 4]


async def test_following_is_authorized_like_the_history(served: Served) -> None:
    account = await open_account(served, "ann")
    async with served.http("customer", sub="bob") as http:
        refused = await http.get(follow(account))
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    async with httpx.AsyncClient(base_url=served.base_url) as anonymous:
        assert (await anonymous.get(follow(account))).status_code == 401
    async with served.http("customer", sub="ann") as http:
        async with http.stream("GET", follow(account)) as stream:
            [(_, data)] = await events(stream.aiter_lines(), 1)
        assert data["state"]["owner"] == "ann"
        history = await http.get(f"/banking.account/{account}/events")
    assert history.json()["data"][0]["name"] == "account-opened", "without follow: JSON"


async def test_a_bad_last_event_id_is_a_problem(served: Served) -> None:
    account = await open_account(served, "ann")
    async with served.http() as http:
        reply = await http.get(follow(account), headers={"Last-Event-ID": "yesterday"})
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"
