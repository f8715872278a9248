"""The command runtime without HTTP against the `eventsourcing` library, on one PostgreSQL server.

Both sides run the same command on an existing bank account: load it, decide, append one deposit.

- fluvius: the generated bank service (examples/bank/), `CommandProcessor.execute` on its own
  scratch database. It reads the account's state row (locked), appends the event, updates the
  row and records the command, in one transaction.
- eventsourcing: an `Application` with an `Account` aggregate in the library's PostgreSQL store,
  with its defaults (no snapshots, no aggregate cache), on another scratch database of the same
  server. `repository.get` folds the account's events, `save` appends the new one.

Every command targets an account of its own, seeded with the same history on both sides, so
each command of a table loads exactly that history and concurrent callers never contend for an
account. Concurrent callers are asyncio tasks for fluvius (it is async) and threads for
eventsourcing (it is sync), in this one process. Rounds alternate which side runs first; a table
shows the median commands/s of the rounds and the latency percentiles of all their commands.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import JSONTranscoder, Transcoding
from pyinstrument import Profiler
from pyinstrument.frame import Frame
from sqlalchemy.engine import make_url

from bench.postgres import asyncpg_dsn, scratch_database
from bench.profiles import part_of
from bench.projects import example_project, import_service
from bench.report import percentile, show
from fluvius.application.processor import CommandContext, CommandProcessor
from fluvius.data import Database, EventStore, storage_of
from fluvius.domain import Command, Event
from fluvius.domain.messages import EventMetadata
from fluvius.ids import uuid7

AMOUNT = Decimal("5.00")
OPENING = Decimal("100.00")
OPENED_ON = dt.date(2025, 1, 1)
USER = "bench"
SEED_BATCH = 100
PROFILED_HISTORY = 10
SIDE = ("p50 ms", "p99 ms", "CPU ms")
COLUMNS = ("callers", "fluvius cmd/s", *SIDE, "eventsourcing cmd/s", *SIDE, "ratio")


@dataclass(frozen=True)
class Sizes:
    """Caller counts, rounds, and per table a history length and the commands of one run."""

    callers: tuple[int, ...]
    rounds: int
    tables: tuple[tuple[int, int], ...]
    warmup: int
    profiled: int


FULL = Sizes(callers=(1, 8), rounds=3, tables=((10, 1000), (100, 300)), warmup=200, profiled=500)
QUICK = Sizes(callers=(1, 4), rounds=1, tables=((10, 16), (100, 8)), warmup=8, profiled=8)


@dataclass(frozen=True)
class Run:
    """One measured run: its wall time, this process's CPU time, every command's latency (s)."""

    elapsed: float
    cpu: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


Ids = list[uuid.UUID]
Table = dict[int, tuple[list[Run], list[Run]]]  # callers: (fluvius runs, eventsourcing runs)


def main(quick: bool = False) -> None:
    """Print a table per history length, then where a fluvius command spends its time."""
    sizes = QUICK if quick else FULL
    tables, profile = asyncio.run(_compare(sizes))
    for (history, commands), table in zip(sizes.tables, tables, strict=True):
        show(
            f"A deposit on an account with {history} events (1 opened + {history - 1} deposits)",
            COLUMNS,
            [_row(callers, *table[callers]) for callers in sizes.callers],
            f"{commands:,} commands per run, one per account, {sizes.rounds} rounds; callers: "
            "asyncio tasks (fluvius), threads (eventsourcing); CPU: this process's CPU time "
            "per command; ratio: fluvius cmd/s / eventsourcing cmd/s",
        )
    show(
        "Where a sequential fluvius command spends its time (pyinstrument, wall clock)",
        ["part", "ms per command", "share"],
        profile,
        f"{sizes.profiled:,} deposits, {PROFILED_HISTORY} events of history; "
        "each sample goes to the innermost library on its stack",
    )


def _row(callers: int, fluvius: list[Run], library: list[Run]) -> list[object]:
    mine, theirs = _summary(fluvius), _summary(library)
    return [callers, *mine, *theirs, mine[0] / theirs[0]]


def _summary(runs: list[Run]) -> list[float]:
    """The median commands/s of `runs`, the p50 and p99 latency of all their commands, and
    their CPU time per command, in ms."""
    latencies = [latency for run in runs for latency in run.latencies]
    return [
        statistics.median(run.rate for run in runs),
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
        sum(run.cpu for run in runs) / len(latencies) * 1000,
    ]


async def _compare(sizes: Sizes) -> tuple[list[Table], list[list[object]]]:
    """Both sides on scratch databases: seed, warm up, measure every table, then profile."""
    async with scratch_database() as fluvius_url, scratch_database() as library_url:
        with tempfile.TemporaryDirectory(prefix="bench-runtime-") as folder:
            fluvius = FluviusBank(fluvius_url, Path(folder))
            bank = Bank(_eventsourcing_env(library_url))
            runs = sizes.rounds * len(sizes.callers)
            try:
                seeded = [
                    await _seed(fluvius, bank, runs * commands, history)
                    for history, commands in sizes.tables
                ]
                warmup = await _seed(fluvius, bank, sizes.warmup, PROFILED_HISTORY)
                profiled, _ = await _seed(fluvius, bank, sizes.profiled, PROFILED_HISTORY)
                for url in (fluvius_url, library_url):  # no autovacuum during the measurements
                    await _sql(url, "VACUUM ANALYZE")
                await _drive_fluvius(fluvius, warmup[0], max(sizes.callers))
                _drive_library(bank, warmup[1], max(sizes.callers))
                tables = [
                    await _table(sizes, fluvius, bank, commands, ids)
                    for (_, commands), ids in zip(sizes.tables, seeded, strict=True)
                ]
                await _check(fluvius_url, library_url)
                return tables, await _profile(fluvius, profiled)
            finally:
                bank.close()
                await fluvius.database.dispose()


async def _seed(fluvius: FluviusBank, bank: Bank, count: int, history: int) -> tuple[Ids, Ids]:
    """`count` accounts of `history` events on each side."""
    return await fluvius.seed(count, history), bank.seed(count, history)


async def _check(fluvius_url: str, library_url: str) -> None:
    """Both stores hold as many events: each side seeded the same and ran the same commands."""
    events = await _sql(fluvius_url, "SELECT count(*) FROM banking_event")
    library_events = await _sql(library_url, "SELECT count(*) FROM bank_events")  # Bank's table
    if events != library_events:
        raise RuntimeError(f"{events} events in fluvius, {library_events} in eventsourcing")


async def _sql(url: str, statement: str) -> object:
    """The first value `statement` returns, on a connection of its own to `url`."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


async def _table(
    sizes: Sizes, fluvius: FluviusBank, bank: Bank, commands: int, ids: tuple[Ids, Ids]
) -> Table:
    """Every round of every caller count, on fresh accounts, alternating which side goes first."""
    table: Table = {callers: ([], []) for callers in sizes.callers}
    run = 0
    for round_number in range(sizes.rounds):
        for callers in sizes.callers:
            share = slice(run * commands, (run + 1) * commands)
            fluvius_runs, library_runs = table[callers]
            if round_number % 2:
                library_runs.append(_drive_library(bank, ids[1][share], callers))
            fluvius_runs.append(await _drive_fluvius(fluvius, ids[0][share], callers))
            if not round_number % 2:
                library_runs.append(_drive_library(bank, ids[1][share], callers))
            run += 1
    return table


async def _drive_fluvius(fluvius: FluviusBank, ids: Ids, callers: int) -> Run:
    """A deposit on each of `ids`, by `callers` asyncio tasks sharing them out."""
    latencies: list[float] = []

    async def caller(share: Ids) -> None:
        for account_id in share:
            started = time.perf_counter()
            await fluvius.deposit(account_id)
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller(ids[number::callers]) for number in range(callers)))
    return Run(time.perf_counter() - started, time.process_time() - cpu, latencies)


def _drive_library(bank: Bank, ids: Ids, callers: int) -> Run:
    """A deposit on each of `ids`, by `callers` threads sharing them out."""
    latencies: list[float] = []

    def caller(share: Ids) -> None:
        for account_id in share:
            started = time.perf_counter()
            bank.deposit(account_id, AMOUNT)
            latencies.append(time.perf_counter() - started)

    with ThreadPoolExecutor(callers) as threads:
        started, cpu = time.perf_counter(), time.process_time()
        futures = [threads.submit(caller, ids[number::callers]) for number in range(callers)]
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - started
    return Run(elapsed, time.process_time() - cpu, latencies)


class FluviusBank:
    """The generated bank service's accounts, run by the runtime's command processor."""

    def __init__(self, url: str, folder: Path) -> None:
        service = import_service(example_project("bank", folder, database_url=url), "bank")
        self.account = service.domain("banking").aggregate("account")
        self.open_account = self.account.handler_for("open-account").payload
        self.deposit_payload = self.account.handler_for("deposit").payload
        self.database = Database(url)
        self.processor = CommandProcessor(self.database)
        self.context = CommandContext(user=USER)

    async def deposit(self, account_id: uuid.UUID) -> None:
        """The command, as the HTTP layer runs it, minus HTTP: no idempotency key, no scope."""
        payload = self.deposit_payload.model_validate({"amount": AMOUNT})
        await self.processor.execute(self.account, payload, account_id, context=self.context)

    async def seed(self, count: int, history: int) -> Ids:
        """`count` accounts of `history` events, written by the runtime's event store.

        The rows are those the processor would write, an account's events in one append (its
        command log gets no rows): the processor would take minutes for the long histories.
        """
        ids = [uuid7() for _ in range(count)]
        for start in range(0, count, SEED_BATCH):
            async with self.database.write.begin() as connection:
                store = EventStore(connection, storage_of(self.account).log)
                for account_id in ids[start : start + SEED_BATCH]:
                    await self._seed_account(store, account_id, history)
        return ids

    async def _seed_account(self, store: EventStore, account_id: uuid.UUID, history: int) -> None:
        aggregate = self.account(self.account.initial_state(account_id))
        events: list[Event] = []
        for command in self._history(account_id, history):
            decision = aggregate.decide(command)
            assert isinstance(decision, list), "the bench's handlers are plain functions"
            for decided in decision:
                aggregate.apply(decided)
                events.append(decided)
        now = dt.datetime.now(dt.UTC)
        metadata = EventMetadata(user=USER, command_id=str(uuid7()))
        await store.append(self.account.name, account_id, 0, events, metadata, now)
        state = aggregate.state.evolve(created_at=now, updated_at=now)
        await store.save_state(
            storage_of(self.account).table, state, previous_version=0, tenant=None
        )

    def _history(self, account_id: uuid.UUID, history: int) -> list[Command]:
        opened = {
            "owner": f"owner {account_id}",
            "initial_deposit": OPENING,
            "opened_on": OPENED_ON,
        }
        deposit = self.deposit_payload.model_validate({"amount": AMOUNT})
        return [self.open_account.model_validate(opened)] + [deposit] * (history - 1)


class Account(Aggregate):
    """A bank account as an eventsourcing aggregate, shaped like the generated one."""

    @event("Opened")
    def __init__(self, owner: str, initial_deposit: Decimal, opened_on: dt.date) -> None:
        self.owner = owner
        self.balance = initial_deposit
        self.status = "open"
        self.opened_on = opened_on

    def deposit(self, amount: Decimal) -> None:
        """Refuse unless the account is open and the amount positive, as fluvius checks."""
        if self.status != "open" or amount <= 0:
            raise ValueError(f"cannot deposit {amount} on a {self.status} account")
        self._deposited(amount)

    @event("Deposited")
    def _deposited(self, amount: Decimal) -> None:
        self.balance += amount


class DateAsISO(Transcoding):
    """Dates in stored events as ISO strings (the library transcodes datetimes, not dates)."""

    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


class Bank(Application[uuid.UUID]):
    """The eventsourcing side: the library's application, repository and PostgreSQL store."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """The library's transcodings, and dates."""
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def deposit(self, account_id: uuid.UUID, amount: Decimal) -> None:
        """The command: fold the account from its events, decide, append one event."""
        account: Account = self.repository.get(account_id)
        account.deposit(amount)
        self.save(account)

    def seed(self, count: int, history: int) -> Ids:
        """`count` accounts of `history` events (opened, then deposits), saved in batches."""
        accounts = [self._account(number, history) for number in range(count)]
        for start in range(0, count, SEED_BATCH):
            self.save(*accounts[start : start + SEED_BATCH])
        return [account.id for account in accounts]

    @staticmethod
    def _account(number: int, history: int) -> Account:
        account = Account(f"owner {number}", OPENING, OPENED_ON)
        for _ in range(history - 1):
            account.deposit(AMOUNT)
        return account


def _eventsourcing_env(url: str) -> dict[str, str]:
    """The library's settings for the database at `url`: its PostgreSQL module, else defaults."""
    parsed = make_url(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parsed.database or "",
        "POSTGRES_HOST": parsed.host or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": parsed.username or "",
        "POSTGRES_PASSWORD": parsed.password or "",
    }


async def _profile(fluvius: FluviusBank, ids: Ids) -> list[list[object]]:
    """Sequential deposits under pyinstrument, their wall time split by library."""
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    for account_id in ids:
        await fluvius.deposit(account_id)
    session = profiler.stop()
    root = session.root_frame()
    parts: dict[str, float] = {}
    if root is not None:
        _attribute(root, "other", parts)
    total = sum(parts.values())
    return [
        [part, seconds * 1000 / len(ids), f"{seconds / total:.0%}"]
        for part, seconds in sorted(parts.items(), key=lambda item: -item[1])
    ]


def _attribute(frame: Frame, inherited: str, parts: dict[str, float]) -> None:
    """Add each frame's own time to its part: its library's, or else its caller's."""
    part = part_of(frame.file_path or "", frame.function, inherited)
    parts[part] = parts.get(part, 0.0) + frame.total_self_time
    for child in frame.children:
        if not child.is_synthetic:  # synthetic children hold self time, counted above
            _attribute(child, part, parts)
