"""Commands on one aggregate queue instead of failing, within a process and across processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from decimal import Decimal

import pytest

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database, verify
from fluvius.domain import VersionConflict
from tests.runtime.bank import Account, Deposit, OpenAccount, log
from tests.runtime.helpers import count, folded_state, stored_state, versions


async def _open(processor: CommandProcessor) -> uuid.UUID:
    return (await processor.execute(Account, OpenAccount(owner="ann"))).aggregate_id


async def test_32_concurrent_commands_all_succeed_in_contiguous_versions(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _open(processor)
    results = await asyncio.gather(
        *(processor.execute(Account, Deposit(amount=Decimal(n)), account) for n in range(1, 33))
    )
    assert sorted(result.version for result in results) == list(range(2, 34))
    assert await versions(database, account) == list(range(1, 34))
    state = await stored_state(database, account)
    assert state is not None
    assert state.balance == sum(range(1, 33))
    assert state == await folded_state(database, account)
    assert (await verify(database, Account)).ok


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _open(processor)
    await processor.execute(Account, Deposit(amount=Decimal(5)), account)
    events_before = await count(database, log.events)
    commands_before = await count(database, log.commands)
    with pytest.raises(VersionConflict):
        await processor.execute(Account, Deposit(amount=Decimal(7)), account, expected_version=1)
    assert await count(database, log.events) == events_before
    assert await count(database, log.commands) == commands_before
    state = await stored_state(database, account)
    assert state is not None
    assert (state.version, state.balance) == (2, 5)


async def test_current_expected_version_is_accepted(processor: CommandProcessor) -> None:
    account = await _open(processor)
    result = await processor.execute(
        Account, Deposit(amount=Decimal(1)), account, expected_version=1
    )
    assert result.version == 2


def _deposit_from_another_process(url: str, account: str, deposits: int) -> list[int]:
    async def run() -> list[int]:
        database = Database(url)
        processor = CommandProcessor(database)
        try:
            results = await asyncio.gather(
                *(
                    processor.execute(Account, Deposit(amount=Decimal(1)), uuid.UUID(account))
                    for _ in range(deposits)
                )
            )
        finally:
            await database.dispose()
        return [result.version for result in results]

    return asyncio.run(run())


async def test_commands_from_several_processes_queue(
    database: Database, processor: CommandProcessor, database_url: str
) -> None:
    account = await _open(processor)
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        pending = [
            pool.apply_async(_deposit_from_another_process, (database_url, str(account), 8))
            for _ in range(3)
        ]
        acknowledged = await asyncio.to_thread(
            lambda: [v for job in pending for v in job.get(timeout=120)]
        )
    assert sorted(acknowledged) == list(range(2, 26))
    assert await versions(database, account) == list(range(1, 26))
    state = await stored_state(database, account)
    assert state is not None
    assert state.balance == 24
