"""Replay and verify: how fast a state table is rebuilt from its event log.

The bank example's log gets accounts x (1 account-opened + 9 money-deposited), rows as the
runtime writes them, and its state table the stale rows an older projection left (each account
as opened). Then `replay` and `verify` run, each in a fresh process so that its peak RSS (VmHWM)
is its own. Every rebuilt row is compared with the ledger, and verify must find no difference:
a fast wrong result fails the benchmark.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import asyncpg
from sqlalchemy import Table, create_engine, insert, select

from bench.postgres import asyncpg_dsn, scratch_database
from bench.processes import alone
from bench.projects import example_project, fluvius, import_service
from bench.report import show
from fluvius.data import Database, ReplayReport, VerifyReport, replay, storage_of, verify
from fluvius.domain import Aggregate, Event, EventMetadata
from fluvius.ids import uuid7

ACCOUNTS = 100_000
QUICK_ACCOUNTS = 1_000
DEPOSITS = 9
SEED = 2025
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2024, 1, 1)
FIRST_TRANSACTION = 1_000
TELLERS = 25
SQLITE_BATCH = 50_000


@dataclass
class Ledger:
    """The log of one run, in recording order, and the state rows it must fold into.

    Every account is opened, then deposited into nine times, the accounts shuffled each round,
    as a busy bank interleaves them. One event is one command: its own command id, its own
    transaction (PostgreSQL), one millisecond after the previous one.
    """

    aggregate: type[Aggregate[Any]]
    accounts: int
    transactions: bool
    expected: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    stale: list[dict[str, Any]] = field(default_factory=list)
    position: int = 0

    @property
    def events(self) -> int:
        return self.accounts * (1 + DEPOSITS)

    def log(self) -> Iterator[dict[str, Any]]:
        """Every event-log row; `expected` and `stale` are complete once it is exhausted."""
        chooser = random.Random(SEED)
        opened, deposited = self._event_type("account-opened"), self._event_type("money-deposited")
        ids = [uuid7() for _ in range(self.accounts)]
        for number, aggregate_id in enumerate(ids):
            owner, opened_on = f"customer-{number:06d}", FIRST_DAY + dt.timedelta(days=number % 365)
            balance = Decimal(chooser.randint(0, 50_000)) / 100
            event = opened.model_validate(
                {"owner": owner, "initial_deposit": balance, "opened_on": opened_on}
            )
            changes = {"owner": owner, "balance": balance, "status": "open", "opened_on": opened_on}
            yield self._append(aggregate_id, event, chooser, changes)
            self.stale.append(dict(self.expected[aggregate_id]))
        for _ in range(DEPOSITS):
            chooser.shuffle(ids)
            for aggregate_id in ids:
                amount = Decimal(chooser.randint(1, 100_000)) / 100
                balance = self.expected[aggregate_id]["balance"] + amount
                event = deposited.model_validate({"amount": amount})
                yield self._append(aggregate_id, event, chooser, {"balance": balance})

    def _event_type(self, name: str) -> type[Event]:
        return self.aggregate.events[name].event

    def _append(
        self,
        aggregate_id: uuid.UUID,
        event: Event,
        chooser: random.Random,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        recorded_at = START + dt.timedelta(milliseconds=self.position)
        state = self.expected.setdefault(
            aggregate_id, {"id": aggregate_id, "version": 0, "created_at": recorded_at}
        )
        state.update(changes, version=state["version"] + 1, updated_at=recorded_at)
        command_id = str(uuid7())
        metadata = EventMetadata(
            user=f"teller-{chooser.randint(1, TELLERS)}",
            command_id=command_id,
            correlation_id=command_id,
        )
        row = {
            "event_id": uuid7(),
            "aggregate": self.aggregate.name,
            "aggregate_id": aggregate_id,
            "version": state["version"],
            "name": event.event_name,
            "schema_version": event.schema_version,
            "data": event.model_dump(mode="json"),
            "metadata": metadata.model_dump(mode="json", exclude_none=True),
            "transaction_id": FIRST_TRANSACTION + self.position if self.transactions else 0,
            "recorded_at": recorded_at,
        }
        self.position += 1
        return row


@dataclass(frozen=True)
class Measurement:
    """One timed operation, as its own process saw it."""

    seconds: float
    report: ReplayReport | VerifyReport
    peak_rss_mib: float
    baseline_rss_mib: float


def main(quick: bool = False) -> None:
    """Load the log into SQLite and PostgreSQL, then time replay and verify on each."""
    accounts = QUICK_ACCOUNTS if quick else ACCOUNTS
    rows, baselines = asyncio.run(_run(accounts))
    show(
        f"Replay and verify of {accounts * (1 + DEPOSITS):,} events ({accounts:,} accounts)",
        ["database", "operation", "events", "seconds", "events/s", "aggregates/s", "peak RSS MiB"],
        rows,
        "Each operation runs alone in a fresh process; peak RSS is its VmHWM "
        f"(after imports, before the operation: {max(baselines):.0f} MiB). Every rebuilt row "
        "was checked against the ledger, and verify found no difference.",
    )


async def _run(accounts: int) -> tuple[list[list[object]], list[float]]:
    rows: list[list[object]] = []
    baselines: list[float] = []
    with TemporaryDirectory(prefix="bench-replay-") as folder:
        async with scratch_database() as postgres:
            root = example_project("bank", Path(folder), database_url=postgres)
            sqlite = f"sqlite:///{Path(folder) / 'bank.db'}"
            fluvius("migrate", "--project", str(root), database_url=sqlite)
            aggregate = _aggregate(root)
            for name, url, load in (
                ("SQLite", sqlite, _load_sqlite),
                ("PostgreSQL", postgres, _load_postgres),
            ):
                ledger = Ledger(aggregate, accounts, transactions=name == "PostgreSQL")
                await load(url, ledger)
                for operation in ("replay", "verify"):
                    measured = alone(_measure, str(root), url, operation)
                    await _check(url, ledger, measured.report)
                    rows.append(_row(name, operation, ledger, measured))
                    baselines.append(measured.baseline_rss_mib)
    return rows, baselines


def _aggregate(root: Path) -> type[Aggregate[Any]]:
    return import_service(root, "bank").domain("banking").aggregate("account")


async def _load_sqlite(url: str, ledger: Ledger) -> None:
    """Write the log with executemany, in one transaction, then the stale state rows."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            log = ledger.log()
            while batch := list(islice(log, SQLITE_BATCH)):
                connection.execute(insert(storage_of(ledger.aggregate).log.events), batch)
            connection.execute(insert(storage_of(ledger.aggregate).table), ledger.stale)
    finally:
        engine.dispose()


async def _load_postgres(url: str, ledger: Ledger) -> None:
    """COPY the log and the stale state rows, then VACUUM ANALYZE, as a settled log would be."""
    events, state = storage_of(ledger.aggregate).log.events, storage_of(ledger.aggregate).table
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await _copy(connection, events, ledger.log(), skip=("position",))
        await _copy(connection, state, iter(ledger.stale))
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _copy(
    connection: asyncpg.Connection,
    table: Table,
    rows: Iterator[dict[str, Any]],
    skip: tuple[str, ...] = (),
) -> None:
    columns = [column.name for column in table.columns if column.name not in skip]
    records = (tuple(_copyable(row[name]) for name in columns) for row in rows)
    await connection.copy_records_to_table(table.name, columns=columns, records=records)


def _copyable(value: Any) -> Any:
    """JSON columns as asyncpg's COPY takes them (text); every other value as it is."""
    return json.dumps(value) if isinstance(value, dict) else value


def _measure(root: str, url: str, operation: str) -> Measurement:
    """Time `operation` on the project's account aggregate; runs in a process of its own."""
    aggregate = _aggregate(Path(root))
    return asyncio.run(_timed(url, aggregate, operation))


async def _timed(url: str, aggregate: type[Aggregate[Any]], operation: str) -> Measurement:
    database = Database(url)
    baseline = _peak_rss_mib()
    try:
        started = time.perf_counter()
        run = replay if operation == "replay" else verify
        report = await run(database, aggregate)
        seconds = time.perf_counter() - started
    finally:
        await database.dispose()
    return Measurement(seconds, report, _peak_rss_mib(), baseline)


def _peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM, since a spawned child's ru_maxrss counts its parent's."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: peak RSS needs Linux")


async def _check(url: str, ledger: Ledger, report: ReplayReport | VerifyReport) -> None:
    """Refuse a wrong result: miscounted, a difference found, or a row unlike the ledger's."""
    if isinstance(report, VerifyReport):
        if not report.ok or report.checked != ledger.accounts:
            raise RuntimeError(f"verify on {url}: {report}")
        return
    if (report.aggregates, report.events) != (ledger.accounts, ledger.events):
        raise RuntimeError(f"replay on {url}: {report}")
    found = await _state_rows(url, storage_of(ledger.aggregate).table)
    wrong = [
        (key, found.get(key), row) for key, row in ledger.expected.items() if found.get(key) != row
    ]
    if wrong or len(found) != len(ledger.expected):
        raise RuntimeError(
            f"replay on {url}: {len(found)} rows, {len(wrong)} wrong; (id, found, expected): "
            f"{wrong[:1]}"
        )


async def _state_rows(url: str, table: Table) -> dict[uuid.UUID, dict[str, Any]]:
    database = Database(url)
    try:
        async with database.read.connect() as connection:
            result = await connection.execute(select(table))
            return {row.id: dict(row._mapping) for row in result}
    finally:
        await database.dispose()


def _row(database: str, operation: str, ledger: Ledger, measured: Measurement) -> list[object]:
    seconds = measured.seconds
    return [
        database,
        operation,
        ledger.events,
        seconds,
        ledger.events / seconds,
        ledger.accounts / seconds,
        measured.peak_rss_mib,
    ]
