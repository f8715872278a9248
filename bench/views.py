"""Views on PostgreSQL: how fast a projector rebuilds one from 1,000,000 events, and how far
one lags behind the commands that feed it.

The rebuild: the bank example's log is the replay benchmark's (accounts x (1 account-opened + 9
money-deposited)); the view is each account's balance, keyed by `@aggregate_id`, so every event
changes a row. The projector rebuilds it from the start of the log in batches, each batch one
transaction with its checkpoint, as `fluvius replay --view` does, in a process of its own. Every
row is compared with the ledger afterwards, and `verify` must find no difference: a fast wrong
result fails.

The lag: the commands benchmark's deposits at 32 clients (bench/underload.py, as the streams
benchmark runs them) against the bank served without views, then with a view of each account's
deposits; a watcher reads the view's checkpoint every few milliseconds and takes each deposit's
lag from its recording to the projector's commit of it. Both runs again with the workers, the
projector among them, in a worker process of their own beside the API's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

import asyncpg
from sqlalchemy import Column, MetaData, Uuid, select

from bench.postgres import asyncpg_dsn, scratch_database
from bench.processes import alone
from bench.projects import REPOSITORY, example_project, fluvius, import_service, spec_project
from bench.replay import ACCOUNTS, QUICK_ACCOUNTS, Ledger, _load_postgres
from bench.report import show
from bench.underload import COLUMNS, POLL_S, Measured, Run, deposits_under_load
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


CLIENTS, QUICK_CLIENTS = 32, 4
WATCH_S = 0.005  # how often the lag watcher reads the view's checkpoint
SETTLE_S = 10.0  # how long the watcher waits, after the load, for the view to catch up
DEPOSITS_VIEW = """    views:
      account_deposits:
        description: Each account's deposits.
        key: account
        fields:
          account: uuid
          deposits: {type: integer, default: 0}
          deposited: {type: decimal, default: 0}
        from:
          money-deposited: {key: "@aggregate_id", add: {deposits: 1, deposited: $amount}}
        policies:
          teller: {allow: read}
"""
CHECKPOINT = "view:banking.account_deposits:banking"


def main(quick: bool = False) -> None:
    """Time the view's rebuild, then its lag under the commands."""
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
    clients = QUICK_CLIENTS if quick else CLIENTS
    duration = (1.0, 0.3) if quick else (10.0, 2.0)
    runs = asyncio.run(_lag(clients, duration))
    (off, on), (off_apart, on_apart) = runs
    show(
        f"Deposits at {clients} clients, without and with a view fed by them",
        ("view", *COLUMNS),
        [measured.row() for pair in runs for measured in pair],
        f"{duration[0]:g} s per run after {duration[1]:g} s of warm-up; workers polling every "
        f"{POLL_S} s, in the API's process, or in a worker process (`fluvius run worker`, on "
        "Redis). Without: the bank with no view; with: the bank with a view of each account's "
        "deposits. Lag is from each deposit's recording to the projector's commit of it, as "
        f"seen by reading the view's checkpoint every {WATCH_S * 1000:.0f} ms. Commands with "
        f"the view: {on.outcome.rate / off.outcome.rate:.0%} of those without in one process, "
        f"{on_apart.outcome.rate / off_apart.outcome.rate:.0%} with a worker process.",
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


Pair = tuple[Measured, Measured]


async def _lag(clients: int, duration: tuple[float, float]) -> tuple[Pair, Pair]:
    """The deposits' rate on the bank without views, then with the deposits view, and the
    view's lag; workers in the API's process, then in a worker process; each project on a
    database of its own."""
    with TemporaryDirectory(prefix="bench-views-lag-") as folder:
        runs = []
        for apart in (False, True):
            for label, views in (("without", ""), ("with", DEPOSITS_VIEW)):
                label += ", worker process" if apart else ""
                async with scratch_database() as url:
                    (Path(folder) / label).mkdir()
                    root = spec_project("bank", _bank_spec(views), Path(folder) / label)
                    fluvius("migrate", "--project", str(root), database_url=url)
                    environment = {"FLUVIUS_DATABASE_URL": url}
                    watcher = (lambda url=url: _projected(url)) if views else None
                    run = Run(label, root, environment, watcher, worker_process=apart)
                    runs.append(await deposits_under_load(run, Path(folder), clients, duration))
        return (runs[0], runs[1]), (runs[2], runs[3])


def _bank_spec(views: str) -> str:
    """The bank example's spec with `views` (YAML, indented as a domain's key) as its views."""
    spec = (REPOSITORY / "examples" / "bank" / "fluvius.yaml").read_text()
    start = spec.index("\n    views:\n") + 1
    end = spec.index("\n    workers:\n", start) + 1
    return spec[:start] + views + spec[end:]


@asynccontextmanager
async def _projected(url: str) -> AsyncIterator[list[float]]:
    """While the block runs (and until the view has caught up after it, at most SETTLE_S), the
    lag (ms) of each deposit the view's projector applies: from the event's recording to the
    first read of the view's checkpoint, every WATCH_S, that finds the checkpoint past it."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    lags: list[float] = []
    since = dt.datetime.now(dt.UTC)
    done = asyncio.Event()

    async def watch() -> None:
        seen = await _checkpoint(connection)
        while True:
            await asyncio.sleep(WATCH_S)
            reached = await _checkpoint(connection)
            if reached > seen:
                now = dt.datetime.now(dt.UTC)
                recorded = await connection.fetch(
                    "SELECT recorded_at FROM banking_event WHERE (transaction_id, position) > "
                    "($1, $2) AND (transaction_id, position) <= ($3, $4) AND recorded_at >= $5",
                    *seen,
                    *reached,
                    since,
                )
                lags.extend((now - row["recorded_at"]).total_seconds() * 1000 for row in recorded)
                seen = reached
            elif done.is_set() and reached >= await _last(connection):
                return

    watching = asyncio.create_task(watch())
    try:
        yield lags
        done.set()
        try:
            await asyncio.wait_for(watching, SETTLE_S)
        except TimeoutError:
            raise RuntimeError(f"the view was behind {SETTLE_S:.0f} s after the load") from None
    finally:
        watching.cancel()
        await connection.close()


async def _checkpoint(connection: asyncpg.Connection) -> tuple[int, int]:
    row = await connection.fetchrow(
        "SELECT transaction_id, position FROM fluvius_checkpoint WHERE name = $1", CHECKPOINT
    )
    return (row["transaction_id"], row["position"]) if row else (0, 0)


async def _last(connection: asyncpg.Connection) -> tuple[int, int]:
    """Where the log ends: its last event in the reader's order."""
    row = await connection.fetchrow(
        "SELECT transaction_id, position FROM banking_event "
        "ORDER BY transaction_id DESC, position DESC LIMIT 1"
    )
    return (row["transaction_id"], row["position"]) if row else (0, 0)
