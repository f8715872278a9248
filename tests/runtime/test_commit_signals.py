"""Commit signals: a command's commit wakes the readers of its log, and a reader woken keeps
up without waiting for its poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database
from tests.runtime.bank import Account, OpenAccount, log, metadata
from tests.services import throwaway_postgres

WAIT_S = 10


async def _open(processor: CommandProcessor) -> None:
    await processor.execute(Account, OpenAccount(owner="ann", initial_deposit=Decimal(1)))


@pytest.fixture
async def postgres() -> AsyncIterator[Database]:
    """The bank's tables in a throwaway PostgreSQL database."""
    async with throwaway_postgres() as url:
        database = Database(url)
        async with database.write.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield database
        await database.dispose()


async def test_a_commit_wakes_the_readers_of_its_log(
    database: Database, processor: CommandProcessor
) -> None:
    wakes = [await database.commits.wake_event([log.channel]) for _ in range(2)]
    assert not any(wake.is_set() for wake in wakes)
    await _open(processor)
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(*(wake.wait() for wake in wakes))


@pytest.mark.postgres
async def test_a_commit_of_another_instance_wakes_the_readers(postgres: Database) -> None:
    wake = await postgres.commits.wake_event([log.channel])
    other = Database(postgres.url)
    try:
        await _open(CommandProcessor(other))
    finally:
        await other.dispose()
    async with asyncio.timeout(WAIT_S):
        await wake.wait()


@pytest.mark.postgres
async def test_the_readers_are_woken_again_after_the_listening_connection_is_lost(
    postgres: Database,
) -> None:
    wake = await postgres.commits.wake_event([log.channel])
    async with postgres.write.connect() as connection:
        ended = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
            )
        )
    assert ended == 1
    async with asyncio.timeout(WAIT_S):
        await wake.wait()  # listening again, it wakes its readers for what they missed
        wake.clear()
        await _open(CommandProcessor(postgres))
        await wake.wait()


@pytest.mark.postgres
async def test_readers_that_start_together_all_listen(postgres: Database) -> None:
    channels = [f"fluvius_test_channel_{n}" for n in range(8)]
    wakes = await asyncio.gather(*(postgres.commits.wake_event([c]) for c in channels))
    async with postgres.write.begin() as connection:
        for channel in channels:
            await connection.execute(select(func.pg_notify(channel, "")))
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(*(wake.wait() for wake in wakes))
