"""Handlers read the caller and the command's instant from `self.context`, and may be async."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import ClassVar

import pytest

from fluvius.application.processor import CommandContext, CommandProcessor
from fluvius.data import Database
from fluvius.data.store import EventStore
from fluvius.domain import Event, Rejected
from fluvius.domain.context import Context
from fluvius.testing.scenario import Scenario
from tests.runtime.bank import Account, AccountOpened, Deposit, OpenAccount, Withdraw, log

NOON = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)


class Watched(Account):
    """An account whose deposit notes its context, and whose withdrawal is async."""

    seen: ClassVar[list[Context]] = []

    def deposit(self, command: Deposit) -> list[Event]:
        Watched.seen.append(self.context)
        return super().deposit(command)

    async def withdraw(self, command: Withdraw) -> list[Event]:  # type: ignore[override]
        await asyncio.sleep(0)
        if self.context.now.weekday() >= 5:
            raise Rejected("closed-on-weekends", "withdrawals wait for a weekday")
        return super().withdraw(command)


@pytest.fixture(autouse=True)
def _forget() -> None:
    Watched.seen.clear()


async def test_a_handler_sees_the_caller_ids_and_the_instant_recorded(
    database: Database, processor: CommandProcessor
) -> None:
    opened = await processor.execute(Watched, OpenAccount(owner="ann"))
    context = CommandContext(
        user="ann", roles=("teller",), command_id="dep-1", correlation_id="req-1", now=NOON
    )

    await processor.execute(
        Watched, Deposit(amount=Decimal(5)), opened.aggregate_id, context=context
    )

    assert Watched.seen == [
        Context(
            now=NOON,
            user="ann",
            roles=("teller",),
            command_id="dep-1",
            correlation_id="req-1",
        )
    ]
    async with database.read.connect() as connection:
        history = await EventStore(connection, log).history(Watched, opened.aggregate_id)
    assert history[-1].recorded_at == NOON


async def test_without_an_instant_the_clock_gives_one_aware_instant_per_command(
    database: Database, processor: CommandProcessor
) -> None:
    opened = await processor.execute(Watched, OpenAccount(owner="ann"))
    before = dt.datetime.now(dt.UTC)

    await processor.execute(Watched, Deposit(amount=Decimal(5)), opened.aggregate_id)

    (seen,) = Watched.seen
    assert seen.now.tzinfo is not None
    assert before <= seen.now <= dt.datetime.now(dt.UTC)
    assert seen.command_id is not None
    assert seen.correlation_id == seen.command_id
    async with database.read.connect() as connection:
        history = await EventStore(connection, log).history(Watched, opened.aggregate_id)
    assert history[-1].recorded_at == seen.now


async def test_an_async_handler_is_awaited(database: Database) -> None:
    scenario = Scenario(database)
    given = scenario.given(Watched, AccountOpened(owner="ann", initial_deposit=Decimal(10)))

    outcome = await given.when(Withdraw(amount=Decimal(4)), now=NOON)

    assert outcome.state.balance == Decimal(6)


async def test_a_scenario_fixes_the_caller_and_the_clock(database: Database) -> None:
    scenario = Scenario(database)
    given = scenario.given(Watched, AccountOpened(owner="ann", initial_deposit=Decimal(10)))
    saturday = dt.datetime(2024, 1, 13, 12, 0, tzinfo=dt.UTC)

    with pytest.raises(Rejected) as refused:
        await given.when(Withdraw(amount=Decimal(4)), user="ann", now=saturday)
    assert refused.value.code == "closed-on-weekends"

    await given.when(Deposit(amount=Decimal(1)), user="ann", roles=("customer",), now=saturday)
    assert [(c.user, c.roles, c.now) for c in Watched.seen] == [("ann", ("customer",), saturday)]


def test_the_instant_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Context(now=dt.datetime(2024, 1, 15, 12, 0))


def test_outside_a_command_the_context_is_the_clocks() -> None:
    aggregate = Watched(Watched.initial_state(uuid.uuid4()))
    assert aggregate.context.now.tzinfo is not None
    assert aggregate.context.user is None
