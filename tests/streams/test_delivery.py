"""Each broker, and webhooks, receive every event of a stream at least once, in order per
aggregate, through a relay killed mid-burst and started again."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from fluvius.application import CommandProcessor
from fluvius.data import Database, recorded_event
from fluvius.domain import Event, RecordedEvent
from fluvius.service import Service
from fluvius.streams.envelope import Message
from fluvius.streams.publishers import Failure, Publisher, Target, publisher_for
from fluvius.streams.relay import StreamRelay
from tests.runtime.bank import Account, Deposit, OpenAccount, Withdraw, log
from tests.streams.consumers import (
    AmqpConsumer,
    Consumer,
    MqttConsumer,
    NatsConsumer,
    RedisConsumer,
    WebhookConsumer,
)
from tests.streams.receiver import SECRET
from tests.streams.service import MONEY

ACCOUNTS = 4
MOVEMENTS = 15  # per account: deposits, then withdrawals, sent concurrently
BATCH = 10
WAIT_S = 30.0
CONSUMERS = [NatsConsumer, RedisConsumer, AmqpConsumer, MqttConsumer, WebhookConsumer]


class DiesMidBatch:
    """Publishes the first half of its first batch, then hangs there: a relay about to be
    killed after the broker took part of a batch and before the checkpoint moved."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.hung = asyncio.Event()

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        await self.publisher.publish(messages[: max(len(messages) // 2, 1)])
        self.hung.set()
        await asyncio.Event().wait()
        return []

    async def close(self) -> None:
        await self.publisher.close()


@pytest.mark.parametrize("consumer_type", CONSUMERS, ids=lambda c: c.__name__[: -len("Consumer")])
async def test_every_event_arrives_in_order_per_aggregate_across_a_killed_relay(
    database: Database,
    processor: CommandProcessor,
    service: Service,
    consumer_type: type[Consumer],
) -> None:
    consumer = consumer_type()
    target = Target(service.name, MONEY.name, secret=SECRET, retry_base_s=0.01)
    await consumer.start(target)
    try:
        accounts = [
            (
                await processor.execute(
                    Account, OpenAccount(owner=f"owner-{n}", initial_deposit=Decimal(MOVEMENTS))
                )
            ).aggregate_id
            for n in range(ACCOUNTS)
        ]
        burst = asyncio.gather(
            *(
                processor.execute(Account, command, account)
                for account in accounts
                for command in [Deposit(amount=Decimal(2))] * MOVEMENTS
                + [Withdraw(amount=Decimal(1))] * MOVEMENTS
            )
        )
        dying = DiesMidBatch(publisher_for(consumer.url, target))
        killed = StreamRelay(service, MONEY, database, dying, batch=BATCH)
        task = asyncio.create_task(killed.run(asyncio.Event(), poll_s=0.01))
        await asyncio.wait_for(dying.hung.wait(), WAIT_S)
        task.cancel()  # the kill: part of a batch is out, its checkpoint never saved
        await asyncio.gather(task, return_exceptions=True)
        await burst

        restarted = StreamRelay(
            service, MONEY, database, publisher_for(consumer.url, target), batch=BATCH
        )
        expected = await _carried(database)
        assert len(expected) == 2 * ACCOUNTS * MOVEMENTS
        received = await _relay_until_received(restarted, consumer, expected)
        _assert_delivered(expected, received)
    finally:
        await consumer.close()


async def _carried(database: Database) -> list[RecordedEvent[Event]]:
    """The stream's events in the log, straight from its table."""
    table = log.events
    query = select(table).where(table.c.name.in_(["money-deposited", "money-withdrawn"]))
    async with database.write.connect() as connection:
        rows = (await connection.execute(query.order_by(table.c.position))).all()
    return [recorded_event(Account, row) for row in rows]


async def _relay_until_received(
    relay: StreamRelay, consumer: Consumer, expected: list[RecordedEvent[Event]]
) -> list[dict[str, Any]]:
    """Run the relay's rounds until the consumer holds every expected id."""
    wanted = {str(event.id) for event in expected}
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline:
            await relay.run_once()
            received = await consumer.received()
            if wanted <= {envelope["id"] for envelope in received}:
                return list(received)
            await asyncio.sleep(0.05)
    finally:
        await relay.publisher.close()
    missing = wanted - {envelope["id"] for envelope in await consumer.received()}
    raise AssertionError(f"{len(missing)} events never arrived")


def _assert_delivered(expected: list[RecordedEvent[Event]], received: list[dict[str, Any]]) -> None:
    """Every id at least once; the first copies in order per aggregate; nothing else."""
    by_id = {str(event.id): event for event in expected}
    seen: set[str] = set()
    last_version: dict[str, int] = {}
    for envelope in received:
        assert envelope["id"] in by_id, "only the stream's events are published"
        if envelope["id"] in seen:
            continue  # a duplicate of an id seen already
        seen.add(envelope["id"])
        event = by_id[envelope["id"]]
        assert envelope["subject"] == str(event.aggregate_id)
        assert envelope["aggregateversion"] == event.version
        assert event.version > last_version.get(envelope["subject"], 0), "in order per aggregate"
        last_version[envelope["subject"]] = event.version
    assert seen == set(by_id)


@pytest.mark.parametrize(
    "consumer_type", [NatsConsumer, RedisConsumer], ids=lambda c: c.__name__[: -len("Consumer")]
)
async def test_a_relay_process_killed_with_sigkill_loses_nothing(
    database: Database,
    processor: CommandProcessor,
    service: Service,
    database_url: str,
    consumer_type: type[Consumer],
) -> None:
    consumer = consumer_type()
    await consumer.start(Target(service.name, MONEY.name))
    try:
        accounts = [
            (await processor.execute(Account, OpenAccount(owner=f"owner-{n}"))).aggregate_id
            for n in range(ACCOUNTS)
        ]
        burst = asyncio.gather(
            *(
                processor.execute(Account, Deposit(amount=Decimal(1)), account)
                for account in accounts
                for _ in range(2 * MOVEMENTS)
            )
        )
        relay = await _relay_process(service, database_url, consumer.url)
        try:
            async with asyncio.timeout(WAIT_S):
                while not await consumer.received():  # noqa: ASYNC110 (a broker to poll)
                    await asyncio.sleep(0.02)
        finally:
            relay.kill()  # SIGKILL, mid-burst
            await relay.wait()
        await burst
        expected = await _carried(database)
        wanted = {str(event.id) for event in expected}
        relay = await _relay_process(service, database_url, consumer.url)
        try:
            async with asyncio.timeout(WAIT_S):
                while not wanted <= {e["id"] for e in await consumer.received()}:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            relay.kill()
            await relay.wait()
        _assert_delivered(expected, await consumer.received())
    finally:
        await consumer.close()


async def _relay_process(
    service: Service, database_url: str, broker_url: str
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.streams.relay_process",
        service.name,
        database_url,
        broker_url,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), WAIT_S) == b"relaying\n"
    return process


@pytest.mark.parametrize("consumer_type", CONSUMERS, ids=lambda c: c.__name__[: -len("Consumer")])
async def test_a_publisher_closed_after_a_failure_publishes_again(
    service: Service, consumer_type: type[Consumer]
) -> None:
    consumer = consumer_type()
    target = Target(service.name, MONEY.name, secret=SECRET, retry_base_s=0.01)
    await consumer.start(target)
    publisher = publisher_for(consumer.url, target)
    sent = [_message(service, n) for n in range(2)]
    try:
        assert await publisher.publish(sent[:1]) == []
        await publisher.close()  # as the relay does when a round fails
        assert await publisher.publish(sent[1:]) == []
        for _ in range(100):
            if len(await consumer.received()) == len(sent):
                break
            await asyncio.sleep(0.05)
        assert [envelope["id"] for envelope in await consumer.received()] == [m.id for m in sent]
    finally:
        await publisher.close()
        await consumer.close()


def _message(service: Service, n: int) -> Message:
    event_id = str(uuid.uuid4())
    body = json.dumps({"id": event_id, "subject": str(n), "aggregateversion": n + 1}).encode()
    return Message(event_id, "banking", "money-deposited", str(n), body)
