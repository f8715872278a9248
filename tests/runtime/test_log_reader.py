"""The log reader delivers every committed event once, in order, even when commits are late."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from fluvius.application.processor import CommandProcessor
from fluvius.data import Checkpoint, Checkpoints, Database, EventStore, LogReader
from fluvius.domain import Event, EventMetadata, RecordedEvent
from tests.runtime.bank import Account, Deposit, MoneyDeposited, OpenAccount, checkpoints, log

POLLS = 100
POLL_INTERVAL_S = 0.05


def _reader(database: Database) -> LogReader:
    return LogReader(database.write, log, [Account])


async def _read(
    reader: LogReader, after: Checkpoint, count: int, batch: int = 500
) -> tuple[list[RecordedEvent[Event]], Checkpoint]:
    """Read as a relay does, polling until `count` events came after `after`; then check that
    nothing more follows.

    On PostgreSQL a transaction open anywhere in the cluster (transaction ids are cluster-wide)
    delays what the reader sees, never what it delivers; so the test polls, as a relay would.
    """
    events: list[RecordedEvent[Event]] = []
    for _ in range(POLLS):
        while batch_read := await reader.read(after, limit=batch):
            events += batch_read
            after = Checkpoint.of(batch_read[-1])
        if len(events) >= count:
            break
        await asyncio.sleep(POLL_INTERVAL_S)
    assert await reader.read(after) == [], "no event is delivered twice"
    return events, after


async def test_every_acknowledged_event_is_readable_at_its_version(
    database: Database, processor: CommandProcessor
) -> None:
    account = (await processor.execute(Account, OpenAccount(owner="ann"))).aggregate_id
    results = await asyncio.gather(
        *(processor.execute(Account, Deposit(amount=Decimal(1)), account) for _ in range(20))
    )
    events, _ = await _read(_reader(database), Checkpoint(), count=21)
    by_id = {str(event.id): event for event in events}
    for result in results:
        (acknowledged,) = result.events
        stored = by_id[acknowledged["id"]]
        assert stored.version == result.version == acknowledged["version"]
        assert stored.aggregate_id == account
        assert stored.data == MoneyDeposited(amount=Decimal(1))


async def test_reading_in_batches_resumes_exactly_after_the_checkpoint(
    database: Database, processor: CommandProcessor
) -> None:
    account = (await processor.execute(Account, OpenAccount(owner="ann"))).aggregate_id
    for _ in range(9):
        await processor.execute(Account, Deposit(amount=Decimal(1)), account)
    reader = _reader(database)
    store = Checkpoints(checkpoints)
    every, _ = await _read(reader, Checkpoint(), count=10)
    first = every[:4]
    async with database.write.begin() as connection:
        await store.save(connection, "relay", Checkpoint.of(first[-1]))
    async with database.write.connect() as connection:
        resumed_at = await store.load(connection, "relay")
    rest, _ = await _read(reader, resumed_at, count=6, batch=3)
    assert [event.position for event in first + rest] == [event.position for event in every]


async def _open_transaction_appending(
    database: Database, aggregate_id: uuid.UUID, version: int
) -> tuple[AsyncConnection, AsyncTransaction]:
    connection = await database.write.connect()
    transaction = await connection.begin()
    await EventStore(connection, log).append(
        "account",
        aggregate_id,
        version,
        [MoneyDeposited(amount=Decimal(100))],
        EventMetadata(user="late"),
        dt.datetime.now(dt.UTC),
    )
    return connection, transaction


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
async def test_a_late_commit_is_not_skipped(
    database: Database, processor: CommandProcessor, database_url: str, outcome: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: a late commit cannot happen")
    a_account = (await processor.execute(Account, OpenAccount(owner="a"))).aggregate_id
    b_account = (await processor.execute(Account, OpenAccount(owner="b"))).aggregate_id
    reader = _reader(database)
    seen, checkpoint = await _read(reader, Checkpoint(), count=2)
    assert len(seen) == 2

    connection, transaction = await _open_transaction_appending(database, a_account, 1)
    b = await processor.execute(Account, Deposit(amount=Decimal(1)), b_account)
    b_event_id = b.events[0]["id"]
    assert await reader.read(checkpoint) == [], "nothing is delivered past an open transaction"

    await (transaction.commit() if outcome == "commit" else transaction.rollback())
    await connection.close()
    expected = [(a_account, 2), (b_account, 2)] if outcome == "commit" else [(b_account, 2)]
    delivered, _ = await _read(reader, checkpoint, count=len(expected))
    assert [(event.aggregate_id, event.version) for event in delivered] == expected
    assert str(delivered[-1].id) == b_event_id
