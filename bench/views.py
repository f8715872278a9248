"""A view rebuilt from the log: how fast its projector folds 1,000,000 events on PostgreSQL.

The bank example's log is the replay benchmark's (accounts x (1 account-opened + 9
money-deposited)); the view is each account's balance, keyed by `@aggregate_id`, so every event
changes a row. The projector rebuilds it from the start of the log in batches, each batch one
transaction with its checkpoint, as `fluvius replay --view` does. Every row is compared with the
ledger afterwards, and `verify` must find no difference: a fast wrong result fails.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import Column, MetaData, Uuid, select

from bench.postgres import scratch_database
from bench.projects import example_project, import_service
from bench.replay import ACCOUNTS, QUICK_ACCOUNTS, Ledger, _load_postgres
from bench.report import show
from fluvius.application.views import View
from fluvius.data import Database, Money, new_metadata, view_table
from fluvius.domain.rules import Change, EventFieldRef, MetadataRef, Operation, Projection, ViewRule
from fluvius.service import Domain, Service
from fluvius.worker.projector import Projector


def balances(metadata: MetaData) -> View:
    """Each account's balance, as a view of the bank's log."""
    table = view_table(
        metadata,
        "banking_balance",
        Column("account", Uuid()),
        Column("balance", Money()),
        key="account",
        tenancy=False,
    )
    rules = {
        "banking.account.account-opened": ViewRule(
            MetadataRef("aggregate_id"),
            Projection((Change(Operation.SET, "balance", EventFieldRef("initial_deposit")),)),
        ),
        "banking.account.money-deposited": ViewRule(
            MetadataRef("aggregate_id"),
            Projection((Change(Operation.ADD, "balance", EventFieldRef("amount")),)),
        ),
    }
    types = {"account": uuid.UUID, "balance": Decimal}
    return View("balance", "banking", table, "account", types, rules, {"balance": Decimal(0)})


def main(quick: bool = False) -> None:
    """Load the log into PostgreSQL, then time the view's rebuild."""
    accounts = QUICK_ACCOUNTS if quick else ACCOUNTS
    rows = asyncio.run(_run(accounts))
    show(
        f"A view rebuilt from {accounts * 10:,} events on PostgreSQL ({accounts:,} rows)",
        ["database", "events", "seconds", "events/s", "rows"],
        rows,
        "Batches of 5000 events, each one transaction with its checkpoint. Every row was "
        "checked against the ledger, and verify found no difference.",
    )


async def _run(accounts: int) -> list[list[object]]:
    with TemporaryDirectory(prefix="bench-views-") as folder:
        async with scratch_database() as postgres:
            root = example_project("bank", Path(folder), database_url=postgres)
            bank = import_service(root, "bank")
            metadata = new_metadata()
            view = balances(metadata)
            domain = bank.domain("banking")
            service = Service(
                bank.name,
                bank.metadata,
                bank.tables,
                (Domain("banking", domain.log, domain.aggregates, domain.tables, views=(view,)),),
            )
            # Transaction ids of 0, as SQLite writes them: the gap-safe reader reads only what is
            # below the server's oldest running transaction id, which made-up ids would outrun.
            ledger = Ledger(domain.aggregate("account"), accounts, transactions=False)
            await _load_postgres(postgres, ledger)
            database = Database(postgres)
            try:
                async with database.write.begin() as connection:
                    await connection.run_sync(metadata.create_all)
                projector = Projector(service, view, database)
                started = time.perf_counter()
                folded = await projector.catch_up()
                seconds = time.perf_counter() - started
                await _check(database, view, ledger, folded)
                if await projector.differences():
                    raise RuntimeError("verify found the view unlike the fold of the log")
            finally:
                await database.dispose()
    return [["PostgreSQL", f"{folded:,}", f"{seconds:.1f}", f"{folded / seconds:,.0f}", accounts]]


async def _check(database: Database, view: View, ledger: Ledger, folded: int) -> None:
    """Refuse a wrong result: an event missed, or a balance unlike the ledger's."""
    async with database.read.connect() as connection:
        rows = (await connection.execute(select(view.table))).all()
    found: dict[uuid.UUID, Decimal] = {row.account: row.balance for row in rows}
    wrong = [key for key, row in ledger.expected.items() if found.get(key) != row["balance"]]
    if folded != ledger.events or wrong or len(found) != ledger.accounts:
        raise RuntimeError(f"{folded} events folded, {len(wrong)} of {len(found)} rows wrong")
