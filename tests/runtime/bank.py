"""A small bank domain written by hand against the runtime API, as generated code declares one."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field
from sqlalchemy import Column, Enum, String, Table

from fluvius.data import (
    Money,
    Storage,
    checkpoint_table,
    domain_log,
    map_aggregate,
    new_metadata,
    state_table,
)
from fluvius.domain import Aggregate, Command, Event, Rejected, State, applies, handles
from fluvius.domain.rules import Literal as Is
from fluvius.domain.rules import Requirement

metadata = new_metadata()
log = domain_log(metadata, "banking")
checkpoints = checkpoint_table(metadata)

Status = Literal["open", "frozen", "closed"]
OPEN = Requirement("status", (Is("open"),))


def _account_table(name: str, *, tenancy: bool) -> Table:
    return state_table(
        metadata,
        name,
        Column("owner", String(80), index=True),
        Column("balance", Money(), nullable=False),
        Column(
            "status",
            Enum(
                "open", "frozen", "closed", name="status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        tenancy=tenancy,
    )


accounts = _account_table("banking_account", tenancy=False)
tenant_accounts = _account_table("banking_tenant_account", tenancy=True)


class AccountState(State):
    owner: str | None = None
    balance: Decimal = Decimal(0)
    status: Status = "open"


class OpenAccount(Command, name="open-account"):
    owner: str = Field(max_length=80)
    initial_deposit: Decimal = Field(Decimal(0), ge=0)


class Deposit(Command, name="deposit"):
    amount: Decimal = Field(gt=0)


class Withdraw(Command, name="withdraw"):
    amount: Decimal = Field(gt=0)


class CloseAccount(Command, name="close-account"):
    pass


class AccountOpened(Event, name="account-opened"):
    owner: str
    initial_deposit: Decimal


class MoneyDeposited(Event, name="money-deposited"):
    amount: Decimal


class MoneyWithdrawn(Event, name="money-withdrawn"):
    amount: Decimal


class AccountClosed(Event, name="account-closed"):
    pass


class Account(Aggregate[AccountState]):
    domain = "banking"
    name = "account"
    state_type = AccountState

    @handles(OpenAccount, create=True)
    def open_account(self, command: OpenAccount) -> list[Event]:
        return [AccountOpened(owner=command.owner, initial_deposit=command.initial_deposit)]

    @handles(Deposit, requires=[OPEN])
    def deposit(self, command: Deposit) -> list[Event]:
        return [MoneyDeposited(amount=command.amount)]

    @handles(Withdraw, requires=[OPEN])
    def withdraw(self, command: Withdraw) -> list[Event]:
        if command.amount > self.state.balance:
            raise Rejected("insufficient-funds", "cannot withdraw more than the balance")
        return [MoneyWithdrawn(amount=command.amount)]

    @handles(CloseAccount, requires=[Requirement("status", (Is("open"), Is("frozen")))])
    def close_account(self, command: CloseAccount) -> list[Event]:
        return [AccountClosed()]

    @applies(AccountOpened)
    def apply_account_opened(self, event: AccountOpened) -> AccountState:
        return self.state.evolve(owner=event.owner, balance=event.initial_deposit, status="open")

    @applies(MoneyDeposited)
    def apply_money_deposited(self, event: MoneyDeposited) -> AccountState:
        return self.state.evolve(balance=self.state.balance + event.amount)

    @applies(MoneyWithdrawn)
    def apply_money_withdrawn(self, event: MoneyWithdrawn) -> AccountState:
        return self.state.evolve(balance=self.state.balance - event.amount)

    @applies(AccountClosed)
    def apply_account_closed(self, event: AccountClosed) -> AccountState:
        return self.state.evolve(status="closed")


class TenantAccount(Account):
    """The same account, in a service whose rows belong to tenants."""

    name = "tenant_account"


map_aggregate(Account, Storage(accounts, log))
map_aggregate(TenantAccount, Storage(tenant_accounts, log))
