"""Mistakes in an aggregate class caught early and clearly: misspelt overrides, handlers that
return something other than a list of the aggregate's events, `self.read` and `self.services`
used outside a command."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database
from fluvius.data.store import EventStore
from fluvius.domain import Event
from fluvius.domain.aggregate import InvalidDecision
from fluvius.domain.lookalikes import MisnamedMethod, check_methods, lookalike
from fluvius.ids import uuid7
from tests.runtime.bank import Account, AccountState, Deposit, OpenAccount, Withdraw, log


class Misspelt(Account):
    """An account whose withdrawal rule and deposit projection never run: both are misspelt."""

    def withdrawl(self, command: Withdraw) -> list[Event]:
        return super().withdraw(command)

    def apply_mony_deposited(self, event: Event) -> AccountState:
        return self.state

    def overdraft_limit(self) -> Decimal:
        """A helper: no expected name is close to it."""
        return Decimal(0)


def test_a_misspelt_override_is_refused_with_where_it_is_and_the_name_meant() -> None:
    with pytest.raises(MisnamedMethod) as refused:
        check_methods(Misspelt)

    lines = str(refused.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{__file__}:")
    assert "method 'withdrawl' of banking.account" in lines[0]
    assert lines[0].endswith("did you mean 'withdraw'?")
    assert "method 'apply_mony_deposited'" in lines[1]
    assert lines[1].endswith("did you mean 'apply_money_deposited'?")


def test_exact_names_private_helpers_and_distant_names_are_not_lookalikes() -> None:
    expected = {"withdraw", "apply_money_deposited"}
    assert lookalike("withdraw", expected) is None
    assert lookalike("_withdrawl", expected) is None
    assert lookalike("overdraft_limit", expected) is None
    check_methods(Account)


class Stray(Event, name="stray"):
    """An event no account applies."""


class Careless(Account):
    """An account whose handlers return what a handler must not."""

    returns: Any = None

    def deposit(self, command: Deposit) -> list[Event]:
        return Careless.returns  # type: ignore[no-any-return]

    async def withdraw(self, command: Withdraw) -> list[Event]:  # type: ignore[override]
        return Careless.returns  # type: ignore[no-any-return]


@pytest.mark.parametrize("command", [Deposit(amount=Decimal(1)), Withdraw(amount=Decimal(1))])
@pytest.mark.parametrize(
    "returned",
    [None, OpenAccount(owner="ann"), [OpenAccount(owner="ann")], ["money-deposited"], [Stray()]],
    ids=["none", "a-command", "a-list-of-commands", "a-list-of-names", "an-undeclared-event"],
)
async def test_a_handler_returning_anything_but_its_events_fails_clearly_and_writes_nothing(
    database: Database, processor: CommandProcessor, command: Deposit | Withdraw, returned: Any
) -> None:
    opened = await processor.execute(Careless, OpenAccount(owner="ann", initial_deposit=5))
    Careless.returns = returned

    name = type(command).__name__.lower()
    with pytest.raises(InvalidDecision, match=rf"Careless\.{name} returned .*: a handler returns"):
        await processor.execute(Careless, command, opened.aggregate_id)

    async with database.read.connect() as connection:
        history = await EventStore(connection, log).history(Careless, opened.aggregate_id)
    assert len(history) == 1


async def test_reading_outside_a_command_says_where_reading_works() -> None:
    account = Account(Account.initial_state(uuid7()))

    with pytest.raises(RuntimeError, match=r"self\.read works while the command processor"):
        await account.read(Account, uuid7())


def test_services_outside_a_service_say_where_they_exist() -> None:
    account = Account(Account.initial_state(uuid7()))

    with pytest.raises(RuntimeError, match="has no services: they exist while a service"):
        _ = account.services
