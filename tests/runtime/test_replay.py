"""State tables are derived data: replay rebuilds them, verify proves them."""

from __future__ import annotations

import contextlib
import importlib
import random
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from fluvius.application.processor import CommandContext, CommandProcessor
from fluvius.data import Database, replay, verify
from fluvius.domain import DomainError, Event, applies, upcasts
from tests.runtime.bank import (
    Account,
    AccountState,
    CloseAccount,
    Deposit,
    OpenAccount,
    TenantAccount,
    Withdraw,
    accounts,
    log,
    tenant_accounts,
)
from tests.runtime.helpers import count, table_digest


async def _busy_bank(processor: CommandProcessor, seed: int) -> list[uuid.UUID]:
    chooser = random.Random(seed)
    ids = [
        (
            await processor.execute(
                Account, OpenAccount(owner=f"owner-{n}", initial_deposit=Decimal(n))
            )
        ).aggregate_id
        for n in range(12)
    ]
    for _ in range(120):
        amount = Decimal(chooser.randint(1, 5000)) / 100
        (command,) = chooser.choices(
            [Deposit(amount=amount), Withdraw(amount=amount), CloseAccount()], weights=[60, 36, 4]
        )
        # guards and the overdraft rule refuse some commands; that is part of the run
        with contextlib.suppress(DomainError):
            await processor.execute(Account, command, chooser.choice(ids))
    return ids


async def test_replay_gives_the_same_state_as_incremental_processing(
    database: Database, processor: CommandProcessor
) -> None:
    await _busy_bank(processor, seed=7)
    before = await table_digest(database, accounts)
    report = await replay(database, Account)
    assert report.aggregates == 12
    assert report.events >= 12
    assert await table_digest(database, accounts) == before
    assert (await verify(database, Account)).ok


async def test_verify_finds_a_tampered_row_and_replay_repairs_it(
    database: Database, processor: CommandProcessor
) -> None:
    ids = await _busy_bank(processor, seed=11)
    before = await table_digest(database, accounts)
    async with database.write.begin() as connection:
        await connection.execute(
            update(accounts).where(accounts.c.id == ids[3]).values(balance=Decimal("999999"))
        )
    report = await verify(database, Account)
    assert [difference.aggregate_id for difference in report.differences] == [ids[3]]
    assert "balance" in report.differences[0].problem
    await replay(database, Account)
    assert await table_digest(database, accounts) == before
    assert (await verify(database, Account)).ok


async def test_replay_folds_aggregates_split_across_chunks(
    database: Database, processor: CommandProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.import_module("fluvius.data.replay"), "CHUNK", 5)
    await _busy_bank(processor, seed=3)
    before = await table_digest(database, accounts)
    report = await replay(database, Account)
    assert (report.aggregates, report.events) == (12, await count(database, log.events))
    assert await table_digest(database, accounts) == before
    assert (await verify(database, Account)).ok


async def test_replay_gives_each_row_its_tenant(
    database: Database, processor: CommandProcessor
) -> None:
    for tenant in ("t1", "t2", "t2"):
        context = CommandContext(tenant=tenant)
        created = await processor.execute(TenantAccount, OpenAccount(owner="ann"), context=context)
        await processor.execute(
            TenantAccount, Deposit(amount=Decimal(2)), created.aggregate_id, context=context
        )
    before = await table_digest(database, tenant_accounts)
    await replay(database, TenantAccount)
    assert await table_digest(database, tenant_accounts) == before
    assert (await verify(database, TenantAccount)).ok


class NotedDeposit(Event, name="money-deposited", version=2):
    amount: Decimal
    note: str


class NotingAccount(Account):
    """Its money-deposited is at version 2; what the commands record is version 1 data."""

    name = "noting_account"

    @applies(NotedDeposit)
    def apply_noted_deposit(self, event: NotedDeposit) -> AccountState:
        return self.state.evolve(balance=self.state.balance + event.amount)

    @upcasts("money-deposited", from_version=1)
    @staticmethod
    def note_nothing(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "note": ""}


async def test_replay_upcasts_events_stored_at_an_older_version(
    database: Database, processor: CommandProcessor
) -> None:
    opened = await processor.execute(NotingAccount, OpenAccount(owner="ann"))
    for amount in ("2.50", "4"):
        await processor.execute(NotingAccount, Deposit(amount=Decimal(amount)), opened.aggregate_id)
    before = await table_digest(database, accounts)
    report = await replay(database, NotingAccount)
    assert (report.aggregates, report.events) == (1, 3)
    assert await table_digest(database, accounts) == before
