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
from bench.processes import alone
from bench.projects import example_project, import_service
from bench.replay import ACCOUNTS, QUICK_ACCOUNTS, Ledger, _load_postgres
from bench.report import show
from fluvius.application.views import View
from fluvius.data import Database, Money, new_metadata, view_table
from fluvius.domain.rules import Change, EventFieldRef, MetadataRef, Operation, Projection, ViewRule
from fluvius.service import Domain, Service
from fluvius.worker.projector import BATCH, Projector


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
        f"Batches of {BATCH:,} events, each one transaction with its checkpoint, in a fresh "
        "process of its own (as `fluvius replay --view` runs). Every row was checked against "
        "the ledger, and verify found no difference.",
    )


async def _run(accounts: int) -> list[list[object]]:
    with TemporaryDirectory(prefix="bench-views-") as folder:
        async with scratch_database() as postgres:
            root = example_project("bank", Path(folder), database_url=postgres)
            service, view = _with_balances(import_service(root, "bank"))
            # Transaction ids of 0, as SQLite writes them: the gap-safe reader reads only what is
            # below the server's oldest running transaction id, which made-up ids would outrun.
            ledger = Ledger(service.domain("banking").aggregate("account"), accounts, False)
            await _load_postgres(postgres, ledger)
            database = Database(postgres)
            try:
                async with database.write.begin() as connection:
                    await connection.run_sync(view.table.metadata.create_all)
                folded, seconds = await asyncio.to_thread(alone, _rebuild, str(root), postgres)
                await _check(database, view, ledger, folded)
                if await Projector(service, view, database).differences():
                    raise RuntimeError("verify found the view unlike the fold of the log")
            finally:
                await database.dispose()
    return [["PostgreSQL", f"{folded:,}", f"{seconds:.1f}", f"{folded / seconds:,.0f}", accounts]]


def _with_balances(bank: Service) -> tuple[Service, View]:
    """The bank service with the balances view as its only one."""
    view = balances(new_metadata())
    domain = bank.domain("banking")
    banking = Domain("banking", domain.log, domain.aggregates, domain.tables, views=(view,))
    return Service(bank.name, bank.metadata, bank.tables, (banking,)), view


def _rebuild(root: str, url: str) -> tuple[int, float]:
    """Fold the view from an empty checkpoint, as `fluvius replay --view` does; how many events
    and how long. Runs in a process of its own."""
    service, view = _with_balances(import_service(Path(root), "bank"))
    return asyncio.run(_timed(service, view, url))


async def _timed(service: Service, view: View, url: str) -> tuple[int, float]:
    database = Database(url)
    try:
        projector = Projector(service, view, database)
        started = time.perf_counter()
        folded = await projector.catch_up()
        return folded, time.perf_counter() - started
    finally:
        await database.dispose()


async def _check(database: Database, view: View, ledger: Ledger, folded: int) -> None:
    """Refuse a wrong result: an event missed, or a balance unlike the ledger's."""
    async with database.read.connect() as connection:
        rows = (await connection.execute(select(view.table))).all()
    found: dict[uuid.UUID, Decimal] = {row.account: row.balance for row in rows}
    wrong = [key for key, row in ledger.expected.items() if found.get(key) != row["balance"]]
    if folded != ledger.events or wrong or len(found) != ledger.accounts:
        raise RuntimeError(f"{folded} events folded, {len(wrong)} of {len(found)} rows wrong")
