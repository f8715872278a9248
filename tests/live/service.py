"""The hand-written bank as a service with policies: tellers read every account, customers
their own (scope: owner), and, in the public bank, anyone without a token every account."""

from __future__ import annotations

import uuid

from fluvius.casbin.permission import PUBLIC, READ, Permission
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
