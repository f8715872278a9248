"""Commands decide on the row their process last saved, and never trust it alone.

Two processors on one database stand for two instances of a service: each keeps the rows it
saved, and each changes rows the other holds.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from fluvius.application import states
from fluvius.application.processor import CommandProcessor
from fluvius.application.states import StateCache
from fluvius.data import Database, verify
from fluvius.domain import Rejected, VersionConflict
from fluvius.domain.messages import State
from tests.runtime.bank import Account, Deposit, OpenAccount, Withdraw
from tests.runtime.helpers import folded_state, stored_state, versions


async def _open(processor: CommandProcessor, amount: int) -> uuid.UUID:
    opened = await processor.execute(
        Account, OpenAccount(owner="ann", initial_deposit=Decimal(amount))
    )
    return opened.aggregate_id


async def _balance(database: Database, account: uuid.UUID) -> Decimal:
    state = await stored_state(database, account)
    assert state is not None
    assert state == await folded_state(database, account)
    return Decimal(state.balance)


async def _moved_elsewhere(
    database: Database, processor: CommandProcessor, deposit: int
) -> uuid.UUID:
    """An account `processor` opened with 5, so holds at version 1, on which another instance
    (a processor of its own) then deposited `deposit`."""
    account = await _open(processor, 5)
    await CommandProcessor(database).execute(Account, Deposit(amount=Decimal(deposit)), account)
    return account


async def test_a_row_changed_by_another_instance_is_read_again_before_the_write(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _moved_elsewhere(database, processor, 10)
    result = await processor.execute(Account, Deposit(amount=Decimal(1)), account)
    assert result.version == 3
    assert await versions(database, account) == [1, 2, 3]
    assert await _balance(database, account) == 16
    assert (await verify(database, Account)).ok


async def test_a_refusal_on_a_held_row_is_decided_again_on_the_row_as_it_is(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _moved_elsewhere(database, processor, 100)  # held at a balance of 5
    result = await processor.execute(Account, Withdraw(amount=Decimal(50)), account)
    assert result.version == 3
    assert await _balance(database, account) == 55
    with pytest.raises(Rejected):  # a refusal that holds on the fresh row stands
        await processor.execute(Account, Withdraw(amount=Decimal(500)), account)
    assert await versions(database, account) == [1, 2, 3]


async def test_an_expected_version_is_checked_against_the_row_as_it_is(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _moved_elsewhere(database, processor, 1)
    # the held row is at version 1, the stored one at 2
    result = await processor.execute(
        Account, Deposit(amount=Decimal(1)), account, expected_version=2
    )
    assert result.version == 3
    with pytest.raises(VersionConflict):
        await CommandProcessor(database).execute(
            Account, Deposit(amount=Decimal(1)), account, expected_version=2
        )
    assert await versions(database, account) == [1, 2, 3]


async def test_two_instances_taking_turns_on_one_account_lose_nothing(
    database: Database, processor: CommandProcessor
) -> None:
    other = CommandProcessor(database)
    account = await _open(processor, 0)
    for turn in range(20):
        instance = processor if turn % 3 else other
        await instance.execute(Account, Deposit(amount=Decimal(turn + 1)), account)
    assert await versions(database, account) == list(range(1, 22))
    assert await _balance(database, account) == sum(range(1, 21))


def test_the_cache_keeps_its_most_recently_used_rows() -> None:
    cache = StateCache(size=2)
    rows = [State(id=uuid.uuid4(), version=n) for n in range(3)]
    keys = [("bank.account", None, row.id) for row in rows]
    cache.put(keys[0], rows[0])
    cache.put(keys[1], rows[1])
    assert cache.get(keys[0]) == rows[0]  # now the most recently used
    cache.put(keys[2], rows[2])
    assert (cache.get(keys[0]), cache.get(keys[1]), cache.get(keys[2])) == (rows[0], None, rows[2])
    cache.drop(keys[0])
    assert cache.get(keys[0]) is None


def test_a_conflict_marks_its_aggregate_contended_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(states.time, "monotonic", lambda: now[0])
    cache = StateCache()
    row = State(id=uuid.uuid4(), version=3)
    key = ("bank.account", None, row.id)
    cache.put(key, row)
    assert not cache.contended(key)
    cache.conflicted(key)
    assert cache.get(key) is None
    assert cache.contended(key)
    now[0] += states.CONTENDED_S
    assert not cache.contended(key)


async def test_commands_on_a_contended_aggregate_start_under_its_lock(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _moved_elsewhere(database, processor, 1)
    key = (Account.qualified_name(), None, account)
    assert not processor.states.contended(key)
    await processor.execute(Account, Deposit(amount=Decimal(1)), account)  # on a stale row
    assert processor.states.contended(key) is (database.dialect == "postgresql")
    await processor.execute(Account, Deposit(amount=Decimal(1)), account)
    assert await versions(database, account) == [1, 2, 3, 4]
    assert await _balance(database, account) == 8
