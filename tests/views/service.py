"""The hand-written bank of tests/runtime with a view: balance and account count per owner."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Enum,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

from fluvius.application.views import Handlers, View
from fluvius.data import Money, UtcDateTime, json_type, new_metadata, view_table
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
from tests.runtime.bank import Account, TenantAccount, accounts, log, metadata, tenant_accounts
from tests.streams.service import TABLES, _runtime

view_metadata = new_metadata()


def _owners_table(name: str, *, tenancy: bool) -> Table:
    """The table of the balance per owner, called `name`."""
    return view_table(
        view_metadata,
        name,
        Column("owner", String(80)),
        Column("balance", Money()),
        Column("accounts", Integer),
        Column("last_account", String(36)),
        key="owner",
        tenancy=tenancy,
    )


owners_table = _owners_table("banking_owner_balance", tenancy=False)
tenant_owners_table = _owners_table("banking_tenant_owner_balance", tenancy=True)


kinds_table = view_table(
    view_metadata,
    "banking_owner_kinds",
    Column("owner", String(80)),
    Column("note", Text()),
    Column("count", BigInteger()),
    Column("amount", Money()),
    Column("ratio", Float()),
    Column("flag", Boolean()),
    Column("account", Uuid()),
    Column("day", Date()),
    Column("at", UtcDateTime()),
    Column("extra", json_type()),
    Column(
        "level",
        Enum("low", "high", name="level", native_enum=False, create_constraint=True, length=4),
    ),
    key="owner",
    tenancy=False,
)
KINDS = {
    "owner": str,
    "note": str,
    "count": int,
    "amount": Decimal,
    "ratio": float,
    "flag": bool,
    "account": uuid.UUID,
    "day": dt.date,
    "at": dt.datetime,
    "extra": object,
    "level": str,
}


def kinds_view() -> View:
    """A row per owner with a column of each type a view's field may have, set by each
    account opened."""
    literals = {
        "note": "a long note",
        "ratio": 0.25,
        "flag": True,
        "day": "2024-03-01",
        "extra": {"tags": ["a", "b"], "n": 1},
        "level": "high",
    }
    changes = [Change(Operation.SET, name, Literal(value)) for name, value in literals.items()]
    changes += [
        Change(Operation.ADD, "count", Literal(1)),
        Change(Operation.ADD, "amount", EventFieldRef("initial_deposit")),
        Change(Operation.SET, "account", MetadataRef("aggregate_id")),
        Change(Operation.SET, "at", MetadataRef("recorded_at")),
    ]
    return View(
        name="owner_kinds",
        domain="banking",
        table=kinds_table,
        key="owner",
        types=KINDS,
        defaults={"count": 0, "amount": Decimal(0)},
        rules={
            "banking.account.account-opened": ViewRule(
                EventFieldRef("owner"), Projection(tuple(changes))
            )
        },
    )


def owners_view(*, extra: int = 1, tenancy: bool = False, handlers: Handlers | None = None) -> View:
    """Balance and accounts per owner (of the tenant, with `tenancy`); `extra` changes the
    definition (an account counts it)."""
    aggregate = "tenant_account" if tenancy else "account"
    return View(
        name="owner_balance",
        domain="banking",
        table=tenant_owners_table if tenancy else owners_table,
        key="owner",
        types={"owner": str, "balance": Decimal, "accounts": int, "last_account": str},
        defaults={"balance": Decimal(0), "accounts": 0},
        rules={
            f"banking.{aggregate}.account-opened": ViewRule(
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
        tenancy=tenancy,
        handlers=handlers or {},
    )


def view_service(view: View) -> Service:
    """The bank with `view`, named afresh for each test."""
    return Service(
        name=f"bank{uuid.uuid4().hex[:8]}",
        metadata=metadata,
        tables=TABLES,
        domains=(
            Domain(
                "banking",
                log,
                (Account, TenantAccount),
                tables={Account: accounts, TenantAccount: tenant_accounts},
                views=(view,),
            ),
        ),
    )


ALL_METADATA: tuple[MetaData, ...] = (metadata, _runtime, view_metadata)
"""The bank's tables, the view's and fluvius's own."""
