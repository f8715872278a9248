"""Every refusal is a typed error, and a refused command writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from decimal import Decimal

import pytest

from fluvius.application.processor import CommandContext, CommandProcessor, Scope
from fluvius.data import Database
from fluvius.domain import AlreadyExists, DomainError, GuardFailed, NotFound, Rejected, ScopeDenied
from tests.runtime.bank import (
    Account,
    CloseAccount,
    Deposit,
    OpenAccount,
    TenantAccount,
    Withdraw,
    log,
)
from tests.runtime.helpers import count


async def _refused(
    database: Database, error: type[DomainError], send: Awaitable[object]
) -> DomainError:
    events, commands = await count(database, log.events), await count(database, log.commands)
    with pytest.raises(error) as raised:
        await send
    assert (await count(database, log.events), await count(database, log.commands)) == (
        events,
        commands,
    )
    return raised.value


async def test_a_command_on_a_missing_aggregate_is_not_found(
    database: Database, processor: CommandProcessor
) -> None:
    await _refused(
        database, NotFound, processor.execute(Account, Deposit(amount=Decimal(1)), uuid.uuid4())
    )


async def test_an_unmet_guard_names_the_field(
    database: Database, processor: CommandProcessor
) -> None:
    account = (await processor.execute(Account, OpenAccount(owner="ann"))).aggregate_id
    await processor.execute(Account, CloseAccount(), account)
    error = await _refused(
        database, GuardFailed, processor.execute(Account, Deposit(amount=Decimal(1)), account)
    )
    assert error.details == {
        "field": "status",
        "comparison": "eq",
        "expected": ["open"],
        "actual": "closed",
    }
    assert error.message == "deposit: status must be 'open'; it is 'closed'"


async def test_user_code_rejects_with_its_own_code(
    database: Database, processor: CommandProcessor
) -> None:
    account = (
        await processor.execute(Account, OpenAccount(owner="ann", initial_deposit=Decimal(5)))
    ).aggregate_id
    error = await _refused(
        database, Rejected, processor.execute(Account, Withdraw(amount=Decimal(6)), account)
    )
    assert error.code == "insufficient-funds"


async def test_creating_with_a_taken_id_is_refused(
    database: Database, processor: CommandProcessor
) -> None:
    account = (await processor.execute(Account, OpenAccount(owner="ann"))).aggregate_id
    await _refused(
        database, AlreadyExists, processor.execute(Account, OpenAccount(owner="bo"), account)
    )


async def test_a_scoped_caller_only_reaches_its_own_aggregates(
    database: Database, processor: CommandProcessor
) -> None:
    mine = Scope(("owner",), "ann")
    account = (await processor.execute(Account, OpenAccount(owner="ann"), scope=mine)).aggregate_id
    await processor.execute(Account, Deposit(amount=Decimal(1)), account, scope=mine)
    theirs = Scope(("owner",), "bo")
    await _refused(
        database,
        NotFound,
        processor.execute(Account, Deposit(amount=Decimal(1)), account, scope=theirs),
    )
    await _refused(
        database, ScopeDenied, processor.execute(Account, OpenAccount(owner="ann"), scope=theirs)
    )


async def test_another_tenants_aggregate_is_not_found(
    database: Database, processor: CommandProcessor
) -> None:
    t1 = CommandContext(tenant="t1")
    account = (
        await processor.execute(TenantAccount, OpenAccount(owner="ann"), context=t1)
    ).aggregate_id
    await processor.execute(TenantAccount, Deposit(amount=Decimal(1)), account, context=t1)
    t2 = CommandContext(tenant="t2")
    await _refused(
        database,
        NotFound,
        processor.execute(TenantAccount, Deposit(amount=Decimal(1)), account, context=t2),
    )
    await _refused(
        database,
        AlreadyExists,
        processor.execute(TenantAccount, OpenAccount(owner="bo"), account, context=t2),
    )


async def test_a_tenant_table_needs_a_tenant(processor: CommandProcessor) -> None:
    with pytest.raises(ValueError, match="belongs to tenants"):
        await processor.execute(TenantAccount, OpenAccount(owner="ann"))
