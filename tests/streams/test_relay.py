"""The relay's lease, a broker that goes down and comes back, and webhook dead letters."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from fluvius.application import CommandProcessor
from fluvius.cli import runtime_app
from fluvius.cli import workers as workers_verb
from fluvius.cli.workers import _requeue, _status
from fluvius.data import Database
from fluvius.observability.instruments import REGISTRY
from fluvius.service import Service
from fluvius.settings import Settings
from fluvius.streams.envelope import Message
from fluvius.streams.publishers import Failure, Target, publisher_for
from fluvius.streams.publishers.nats import jetstream_name
from fluvius.streams.relay import StreamRelay
from fluvius.worker.inprocess import InProcessWorkers
from fluvius.worker.jobs import JobStore
from tests.runtime.bank import Account, Deposit, OpenAccount
from tests.services import require
from tests.streams.consumers import NATS_URL, NatsConsumer, RedisConsumer
from tests.streams.proxy import Proxy
from tests.streams.receiver import SECRET, Receiver, receiving
from tests.streams.service import MONEY

DEPOSITS = 5
WAIT_S = 30


async def _deposits(processor: CommandProcessor, count: int = DEPOSITS) -> list[str]:
    """Open an account and deposit `count` times; the ids of the deposits' events."""
    account = (await processor.execute(Account, OpenAccount(owner="ann"))).aggregate_id
    ids = []
    for _ in range(count):
        result = await processor.execute(Account, Deposit(amount=Decimal(1)), account)
        ids += [event["id"] for event in result.events]
    return ids


class Holding:
    """A publisher that keeps its first batch until released, holding the stream's lease."""

    def __init__(self) -> None:
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.published: list[str] = []

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        self.holding.set()
        await self.release.wait()
        self.published += [m.id for m in messages]
        return []

    async def close(self) -> None:
        pass


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_one_relay_per_stream_publishes_at_a_time(
    database: Database, processor: CommandProcessor, service: Service
) -> None:
    ids = await _deposits(processor)
    first, second = Holding(), Holding()
    second.release.set()
    stop = asyncio.Event()
    holder = asyncio.create_task(StreamRelay(service, MONEY, database, first).run(stop, 0.05))
    await asyncio.wait_for(first.holding.wait(), WAIT_S)
    assert await StreamRelay(service, MONEY, database, second).run_once() == 0
    assert second.published == []
    first.release.set()
    await _until(lambda: len(first.published) == len(ids))
    stop.set()
    await holder
    assert first.published == ids
    other = StreamRelay(service, MONEY, database, second)
    assert await other.run_once() == 0, "the checkpoint moved past what the first published"


async def test_a_broker_that_is_down_delays_the_stream_not_the_commands(
    database: Database, processor: CommandProcessor, service: Service
) -> None:
    consumer = NatsConsumer()
    target = Target(service.name, MONEY.name)
    await consumer.start(target)
    proxy = Proxy(4222)
    await proxy.up()
    relay = StreamRelay(
        service, MONEY, database, publisher_for(f"nats://127.0.0.1:{proxy.port}", target)
    )
    try:
        before = await _deposits(processor, 2)
        await _until(relay.run_once)  # on PostgreSQL, others' transactions may delay it
        await proxy.down()
        during = await asyncio.wait_for(_deposits(processor), 10)  # commands go on
        assert await _failure(relay) is not None
        await proxy.up()
        for _ in range(WAIT_S * 20):
            await relay.run_once()
            received = [envelope["id"] for envelope in await consumer.received()]
            if len(received) >= len(before + during):
                break
            await asyncio.sleep(0.05)
        assert received == before + during
    finally:
        await relay.publisher.close()
        await proxy.down()
        await consumer.close()


async def _until(check: Callable[[], Awaitable[object] | object]) -> None:
    """Poll `check` until it is true."""
    for _ in range(WAIT_S * 20):
        outcome = check()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("waited in vain")


async def _failure(relay: StreamRelay) -> BaseException | None:
    """What the relay's rounds raise, once one does."""
    for _ in range(WAIT_S * 20):
        try:
            await relay.run_once()
        except Exception as error:
            return error
        await asyncio.sleep(0.05)
    return None


class _Found:
    """What `fluvius workers` reads of a project: its service and settings."""

    def __init__(self, service: Service, settings: Settings) -> None:
        self._service, self._settings = service, settings

    def service(self) -> Service:
        return self._service

    def settings(self) -> Settings:
        return self._settings


async def test_a_webhook_that_refuses_an_event_makes_a_dead_letter_to_retry(
    database: Database,
    processor: CommandProcessor,
    service: Service,
    database_url: str,
    tmp_path: Path,
) -> None:
    ids = await _deposits(processor)
    async with receiving(Receiver()) as receiver:
        receiver.refused.add(ids[2])
        settings = Settings.load(
            service.name,
            tmp_path,
            {"FLUVIUS_DATABASE_URL": database_url, "FLUVIUS_STREAM_MONEY_URL": receiver.url},
        )
        found: Any = _Found(service, settings)
        target = Target(service.name, MONEY.name, secret=SECRET, retry_base_s=0.01, attempts=3)
        relay = StreamRelay(service, MONEY, database, publisher_for(receiver.url, target))
        while len(receiver.envelopes) < len(ids) - 1:
            await relay.run_once()
            await asyncio.sleep(0.05)
        assert [e["id"] for e in receiver.envelopes] == ids[:2] + ids[3:]
        assert receiver.requests == len(ids) + 2, "the refused event was tried three times"

        rows, letters, errors = await _status(found)
        (row,) = [row for row in rows if row[0] == "stream:money"]
        assert row[1:] == ("stream → http", row[2], 0, 0, 0, 0, 1)
        assert errors["stream:money"].count == 1
        assert "HTTP 503" in errors["stream:money"].last
        assert errors["stream:money"].since <= errors["stream:money"].at
        (letter,) = letters
        assert (letter["worker"], letter["job_key"]) == ("stream:money", ids[2])
        assert "HTTP 503" in letter["error"]

        receiver.refused.clear()
        await _requeue(found, letter["id"])
        await relay.run_once()
        assert receiver.envelopes[-1]["id"] == ids[2]
        async with database.read.connect() as connection:
            counts = await JobStore(service.tables).counts(connection)
            assert counts["stream:money"].done == 1
            assert await JobStore(service.tables).dead(connection) == []
        await relay.publisher.close()
    assert uuid.UUID(letter["job_key"])


async def test_fluvius_workers_shows_what_a_refusing_broker_said(
    database: Database,
    processor: CommandProcessor,
    service: Service,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require("NATS", NATS_URL, 4222)
    target = Target(service.name, MONEY.name)
    client = await nats.connect(NATS_URL)
    jetstream = client.jetstream()
    # the stream's JetStream stream exists, but takes none of its subjects: no one answers
    await jetstream.add_stream(name=jetstream_name(target), subjects=[f"not-{service.name}.>"])
    relay = StreamRelay(service, MONEY, database, publisher_for(NATS_URL, target))
    counted = _broker_errors()
    try:
        await _deposits(processor)
        for _ in range(2):
            assert await _failure(relay) is not None
        settings = Settings.load(
            service.name,
            tmp_path,
            {"FLUVIUS_DATABASE_URL": database_url, "FLUVIUS_STREAM_MONEY_URL": NATS_URL},
        )
        monkeypatch.setattr(workers_verb, "open_project", lambda _: _Found(service, settings))
        result = await asyncio.to_thread(CliRunner().invoke, runtime_app(), ["workers"])
    finally:
        await relay.publisher.close()
        await jetstream.delete_stream(jetstream_name(target))
        await client.close()
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    assert "stream:money stream → nats" in shown
    assert "broker errors" in shown
    assert "stream:money 2 since " in shown
    assert "RuntimeError: JetStream did not store a message: no ack (status 503)" in shown
    assert _broker_errors() - counted == 2


def _broker_errors() -> float:
    """The broker errors of the money stream that this process has counted."""
    labels = {"stream": MONEY.name}
    return REGISTRY.get_sample_value("fluvius_stream_errors_total", labels) or 0.0


async def test_the_in_process_workers_run_the_streams_that_have_a_url(
    database: Database,
    processor: CommandProcessor,
    service: Service,
    database_url: str,
    tmp_path: Path,
) -> None:
    consumer = RedisConsumer()
    await consumer.start(Target(service.name, MONEY.name))
    environment = {
        "FLUVIUS_DATABASE_URL": database_url,
        "FLUVIUS_STREAM_MONEY_URL": consumer.url,
        "FLUVIUS_WORKER_POLL_SECONDS": "0.05",
    }
    settings = Settings.load(service.name, tmp_path, environment)
    workers = InProcessWorkers(service, database, processor, settings)
    assert [relay.stream.name for relay in workers.streams.relays] == ["money"]
    await workers.start()
    try:
        ids = await _deposits(processor)

        async def arrived() -> bool:
            return [envelope["id"] for envelope in await consumer.received()] == ids

        await _until(arrived)
        assert workers.problem() is None
    finally:
        await workers.stop()
        await consumer.close()
    unset = Settings.load(service.name, tmp_path, {"FLUVIUS_DATABASE_URL": database_url})
    assert InProcessWorkers(service, database, processor, unset).streams.relays == []


async def test_a_message_jetstream_does_not_store_fails_the_batch(service: Service) -> None:
    consumer = NatsConsumer()
    target = Target(service.name, MONEY.name)
    await consumer.start(target)
    publisher = publisher_for(consumer.url, target)
    sent = Message(str(uuid.uuid4()), "banking", "money-deposited", str(uuid.uuid4()), b"{}")
    try:
        assert await publisher.publish([sent]) == []
        await consumer.client.jetstream().delete_stream(jetstream_name(target))
        with pytest.raises(RuntimeError, match="JetStream did not store a message"):
            await publisher.publish([sent])
    finally:
        await publisher.close()
        await consumer.close()
