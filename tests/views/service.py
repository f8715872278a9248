"""The hand-written bank of tests/runtime with a view: balance and account count per owner."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import Column, Integer, MetaData, String

from fluvius.application.views import View
from fluvius.data import Database, Money, new_metadata, view_table
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
from tests.streams.service import TABLES, _runtime

view_metadata = new_metadata()
owners_table = view_table(
    view_metadata,
    "banking_owner_balance",
    Column("owner", String(80)),
    Column("balance", Money()),
    Column("accounts", Integer),
    Column("last_account", String(36)),
    key="owner",
    tenancy=False,
)


def owners_view(*, extra: int = 1) -> View:
    """Balance and accounts per owner; `extra` changes the definition (an account counts it)."""
    return View(
        name="owner_balance",
        domain="banking",
        table=owners_table,
        key="owner",
        types={"owner": str, "balance": Decimal, "accounts": int, "last_account": str},
        defaults={"balance": Decimal(0), "accounts": 0},
        rules={
            "banking.account.account-opened": ViewRule(
                EventFieldRef("owner"),
                Projection(
                    (
                        Change(Operation.ADD, "accounts", Literal(extra)),
                        Change(Operation.ADD, "balance", EventFieldRef("initial_deposit")),
                        Change(Operation.SET, "last_account", MetadataRef("aggregate_id")),
                    )
                ),
            ),
        },
    )


def view_service(view: View) -> Service:
    """The bank with `view`, named afresh for each test."""
    return Service(
        name=f"bank{uuid.uuid4().hex[:8]}",
        metadata=metadata,
        tables=TABLES,
        domains=(Domain("banking", log, (Account,), tables={Account: accounts}, views=(view,)),),
    )


async def create_tables(database: Database) -> None:
    """Create the bank's tables, the view's and fluvius's own."""
    every: tuple[MetaData, ...] = (metadata, _runtime, view_metadata)
    async with database.write.begin() as connection:
        for each in every:
            await connection.run_sync(each.create_all)
