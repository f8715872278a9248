"""A command id seen before returns the stored reply and writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from fluvius.application.processor import CommandContext, CommandProcessor
from fluvius.data import Database
from fluvius.domain import IdempotencyConflict
from tests.runtime.bank import Account, Deposit, OpenAccount, accounts, log
from tests.runtime.helpers import count, versions


async def _open(processor: CommandProcessor) -> uuid.UUID:
    return (await processor.execute(Account, OpenAccount(owner="ann"))).aggregate_id


async def test_a_repeated_command_id_replays_the_reply(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _open(processor)
    keyed = CommandContext(command_id="deposit-1")
    first = await processor.execute(Account, Deposit(amount=Decimal(3)), account, context=keyed)
    again = await processor.execute(Account, Deposit(amount=Decimal(3)), account, context=keyed)
    assert not first.replayed
    assert again.replayed
    assert again.response == first.response
    assert await versions(database, account) == [1, 2]


@pytest.mark.parametrize(
    ("amount", "other_account"),
    [(Decimal(4), False), (Decimal(3), True)],
    ids=["other-payload", "other-aggregate"],
)
async def test_a_reused_command_id_for_another_request_is_refused(
    database: Database, processor: CommandProcessor, amount: Decimal, other_account: bool
) -> None:
    account = await _open(processor)
    target = await _open(processor) if other_account else account
    keyed = CommandContext(command_id="deposit-1")
    await processor.execute(Account, Deposit(amount=Decimal(3)), account, context=keyed)
    events = await count(database, log.events)
    with pytest.raises(IdempotencyConflict):
        await processor.execute(Account, Deposit(amount=amount), target, context=keyed)
    assert await count(database, log.events) == events


async def test_ten_concurrent_sends_of_one_command_record_one_set_of_events(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _open(processor)
    keyed = CommandContext(command_id="deposit-once")
    results = await asyncio.gather(
        *(
            processor.execute(Account, Deposit(amount=Decimal(9)), account, context=keyed)
            for _ in range(10)
        )
    )
    assert {result.version for result in results} == {2}
    assert len({result.events[0]["id"] for result in results}) == 1
    assert sum(not result.replayed for result in results) == 1
    assert await versions(database, account) == [1, 2]


async def test_ten_concurrent_creations_with_one_key_create_one_aggregate(
    database: Database, processor: CommandProcessor
) -> None:
    keyed = CommandContext(command_id="open-once")
    results = await asyncio.gather(
        *(processor.execute(Account, OpenAccount(owner="bo"), context=keyed) for _ in range(10))
    )
    assert len({result.aggregate_id for result in results}) == 1
    assert await count(database, accounts) == 1
    assert await count(database, log.events) == 1


async def test_each_caller_has_keys_of_its_own(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _open(processor)
    ann = CommandContext(user="ann", command_id="deposit-1")
    bo = CommandContext(user="bo", command_id="deposit-1")
    first = await processor.execute(Account, Deposit(amount=Decimal(3)), account, context=ann)
    other = await processor.execute(Account, Deposit(amount=Decimal(4)), account, context=bo)
    again = await processor.execute(Account, Deposit(amount=Decimal(3)), account, context=ann)
    assert (first.version, other.version) == (2, 3)
    assert not other.replayed
    assert again.replayed
    assert again.response == first.response
    assert await versions(database, account) == [1, 2, 3]
