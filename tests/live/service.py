"""The hand-written bank as a service with policies: tellers read every account, customers
their own (scope: owner), and, in the public bank, anyone without a token every account; and
the bank with a view of each account's deposits."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import Column, Integer, String

from fluvius.application.views import View
from fluvius.casbin.permission import PUBLIC, READ, Permission
from fluvius.data import Money, new_metadata, view_table
from fluvius.domain.rules import (
    Change,
    EventFieldRef,
    Literal,
    MetadataRef,
    Operation,
    Projection,
    ViewRule,
)
from fluvius.service import Domain, Service
from tests.runtime.bank import Account, accounts, log, metadata
from tests.streams.service import TABLES

RESOURCE = "banking.account"
OPEN = "/banking:open-account/account/:new"
COMMANDS = ("open-account", "deposit", "withdraw", "close-account")
PERMISSIONS = (
    Permission("teller", RESOURCE, READ),
    *(Permission("teller", RESOURCE, command) for command in COMMANDS),
    Permission("customer", RESOURCE, READ, scope="owner"),
)


def live_bank(*, public: bool = False) -> Service:
    """The bank; with `public`, its accounts are readable without a token."""
    permissions = (*PERMISSIONS, Permission(PUBLIC, RESOURCE, READ)) if public else PERMISSIONS
    return Service(
        name=f"live{uuid.uuid4().hex[:8]}",
        metadata=metadata,
        tables=TABLES,
        domains=(
            Domain("banking", log, (Account,), tables={Account: accounts}, permissions=permissions),
        ),
    )


def deposit(account: str) -> str:
    return f"/banking:deposit/account/{account}"


VIEW = "banking.account_deposits"
view_metadata = new_metadata()
deposits_table = view_table(
    view_metadata,
    "banking_account_deposits",
    Column("account", String(36)),
    Column("owner", String(80)),
    Column("deposits", Integer),
    Column("total", Money()),
    key="account",
    tenancy=False,
)
ACCOUNT_KEY = ViewRule(MetadataRef("aggregate_id"))


def deposits_view() -> View:
    """Deposits per account, with its owner: a view a customer reads its own rows of."""
    return View(
        name="account_deposits",
        domain="banking",
        table=deposits_table,
        key="account",
        types={"account": str, "owner": str, "deposits": int, "total": Decimal},
        defaults={"deposits": 0, "total": Decimal(0)},
        rules={
            "banking.account.account-opened": replace(
                ACCOUNT_KEY,
                projection=Projection((Change(Operation.SET, "owner", EventFieldRef("owner")),)),
            ),
            "banking.account.money-deposited": replace(
                ACCOUNT_KEY,
                projection=Projection(
                    (
                        Change(Operation.ADD, "deposits", Literal(1)),
                        Change(Operation.ADD, "total", EventFieldRef("amount")),
                    )
                ),
            ),
            "banking.account.account-closed": replace(ACCOUNT_KEY, delete=True),
        },
    )


def live_bank_with_a_view() -> Service:
    """The bank with `deposits_view`: tellers read every row, customers their own."""
    permissions = (
        *PERMISSIONS,
        Permission("teller", VIEW, READ),
        Permission("customer", VIEW, READ, scope="owner"),
    )
    return Service(
        name=f"live{uuid.uuid4().hex[:8]}",
        metadata=metadata,
        tables=TABLES,
        domains=(
            Domain(
                "banking",
                log,
                (Account,),
                tables={Account: accounts},
                permissions=permissions,
                views=(deposits_view(),),
            ),
        ),
    )
