"""The settled horizon on PostgreSQL: where a feed starts while appending transactions overlap."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.data import Database, EventStore
from fluvius.data.horizon import SettledLog
from fluvius.domain import EventMetadata
from tests.conftest import BACKENDS
from tests.runtime.bank import Account, AccountOpened, log
from tests.streams.service import create_tables

pytestmark = pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)


async def appended(database: Database) -> tuple[AsyncConnection, int]:
    """A connection whose transaction has appended one event, still open; the event's position."""
    connection = await database.write.connect()
    await connection.begin()
    store = EventStore(connection, log)
    opened = AccountOpened(owner="relay", initial_deposit=Decimal(1))
    now = dt.datetime.now(dt.UTC)
    [event] = await store.append("account", uuid.uuid4(), 0, [opened], EventMetadata(), now)
    return connection, event.position


@contextlib.asynccontextmanager
async def relay(database: Database) -> AsyncIterator[int]:
    """Appending transactions, each one committing only once the next has appended, for the
    block: at no moment is none of them open. Yields the first one's position."""
    held, first = await appended(database)
    stop = asyncio.Event()

    async def run() -> None:
        nonlocal held
        while not stop.is_set():
            following, _ = await appended(database)
            await held.commit()
            await held.close()
            held = following
            await asyncio.sleep(0.05)

    task = asyncio.create_task(run())
    try:
        yield first
    finally:
        stop.set()
        await task
        await held.commit()
        await held.close()


async def test_a_feed_starts_while_appending_transactions_keep_overlapping(
    database_url: str,
) -> None:
    """The horizon starts at the end of the log as it was: once the appenders of that moment
    end, not once no appender at all is running (which under steady writes may never be)."""
    database = Database(database_url)
    try:
        await create_tables(database)
        async with relay(database) as first:
            settled = SettledLog(database.write, log, (Account,))
            horizon = await asyncio.wait_for(settled.start(), 10)
            assert horizon >= first
            assert settled.horizon == horizon
    finally:
        await database.dispose()
