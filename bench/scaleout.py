"""Scale-out on this machine: commands/s and queries/s of the generated bank service served by 1,
2 and 4 processes (`fluvius run --workers N`) on one PostgreSQL, and where the CPU goes.

At each step the same servers take, in turn, 32 clients that deposit (each on an account of its
own, as in bench/commands.py), 32 that list accounts (the queries benchmark's first case: open
accounts by balance, page 1 of 20, which also counts the matches) and 32 that each read one
account. While a load runs, the CPU time of the server processes, of the PostgreSQL backends of
the bench's database, of the load generator and of the whole machine is read from /proc over the
measured window. Each load then runs again under py-spy, whose samples split the servers' CPU
time by library.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import asyncpg

from bench import loadgen
from bench.commands import deposits, open_accounts
from bench.loadgen import Headers, Load, Outcome, Request
from bench.postgres import asyncpg_dsn, scratch_database
from bench.processes import CpuMeter, children_of, parent_of
from bench.profiles import spy
from bench.projects import example_project
from bench.queries import LIMIT, OPEN_BY_BALANCE, PATH, fill_accounts
from bench.report import show
from bench.servers import (
    Server,
    bearer_headers,
    fluvius_run,
    free_port,
    generated_environment,
    serve,
)

PROCESSES = (1, 2, 4)
CLIENTS = 32
LISTING = f"{PATH}?{urlencode({**OPEN_BY_BALANCE, 'limit': LIMIT, 'page': 1})}"
LOADS = ("deposit", "list", "get one")
TICK_S = 0.1
LOADGEN_START_S = 0.5  # from starting the load generator to its first request, at most


@dataclass(frozen=True)
class Size:
    """Accounts in the state table, and how long each load runs, measured and profiled."""

    rows: int
    duration_s: float
    warmup_s: float
    profiled_s: int


FULL = Size(rows=100_000, duration_s=5.0, warmup_s=2.0, profiled_s=5)
QUICK = Size(rows=2_000, duration_s=1.0, warmup_s=0.3, profiled_s=1)


@dataclass(frozen=True)
class Bench:
    """The bank project, its database, PostgreSQL's postmaster, and the run's size."""

    root: Path
    database_url: str
    folder: Path
    postmaster: int
    size: Size


@dataclass(frozen=True)
class Measured:
    """One load at one step: what the clients saw, and CPU time in % of one core."""

    outcome: Outcome
    server: float
    postgres: float
    loadgen: float
    bench: float
    machine: float


@dataclass(frozen=True)
class Step:
    """A number of server processes: each load measured, and profiled (samples per part)."""

    processes: int
    measured: dict[str, Measured]
    profiled: dict[str, Counter[str]]


def main(quick: bool = False) -> None:
    """Run every step and print the throughput table, then a CPU table per load."""
    size = QUICK if quick else FULL
    steps = asyncio.run(_run(size))
    show(
        f"The bank service on PostgreSQL, {CLIENTS} clients, by server processes",
        ["processes", "deposit/s", "p99 ms", "list/s", "p99 ms", "get one/s", "p99 ms", "errors"],
        [_throughput(step) for step in steps],
        f"{size.duration_s:.0f} s per load after {size.warmup_s:.0f} s of warm-up; list: "
        f"GET {PATH} open accounts by balance, page 1 of {LIMIT} ({size.rows:,} accounts); "
        f"errors: deposit / list / get one",
    )
    for load in LOADS:
        show(
            f"Where the CPU goes under {load}, in % of one core "
            f"({os.cpu_count()} cores: {100 * (os.cpu_count() or 1)}% in all)",
            ["", *(f"{step.processes} process(es)" for step in steps)],
            _cpu_rows(steps, load),
            "server parts: the servers' CPU time (/proc) split by py-spy's samples of a second "
            "run, each to the innermost library on its stack; PostgreSQL: the backends of the "
            "bench's database; rest: everything else running on the machine",
        )


async def _run(size: Size) -> list[Step]:
    with tempfile.TemporaryDirectory(prefix="fluvius-bench-") as folder:
        async with scratch_database() as url:
            root = await asyncio.to_thread(example_project, "bank", Path(folder), database_url=url)
            await fill_accounts(url, size.rows)
            bench = Bench(root, url, Path(folder), await _postmaster(url), size)
            return [await _step(bench, processes) for processes in PROCESSES]


async def _step(bench: Bench, processes: int) -> Step:
    """Serve the bank with `processes` processes; measure, then profile, each load."""
    port = free_port()
    async with serve(
        fluvius_run(bench.root, port, workers=processes),
        port=port,
        log=bench.folder / f"scaleout-{processes}.log",
        environment=generated_environment(bench.database_url),
        workers=processes,
    ) as server:
        headers = bearer_headers(bench.root)
        loads = _loads(await open_accounts(port, headers, CLIENTS), headers)
        measured = {name: await _measure(bench, server, loads[name]) for name in LOADS}
        profiled = {name: await _profile(bench, server, loads[name]) for name in LOADS}
        return Step(processes, measured, profiled)


def _loads(accounts: list[str], headers: Headers) -> dict[str, list[list[Request]]]:
    """The requests of each load's connections."""
    return {
        "deposit": deposits(accounts, headers),
        "list": [[Request("GET", LISTING, headers=headers)] for _ in accounts],
        "get one": [[Request("GET", f"{PATH}{account}", headers=headers)] for account in accounts],
    }


async def _measure(bench: Bench, server: Server, connections: list[list[Request]]) -> Measured:
    """Apply a load, sampling CPU times meanwhile; the outcome and the CPU in its window."""
    meter = CpuMeter()
    servers = server.pids()

    def tick() -> None:
        meter.sample([os.getpid(), *servers, *children_of(bench.postmaster)])

    tick()
    load = Load(server.port, connections, bench.size.duration_s, bench.size.warmup_s)
    outcome = await loadgen.run(load, every_s=TICK_S, tick=tick)
    tick()
    start, end = outcome.started_at, outcome.started_at + outcome.seconds
    backends = await _backends(bench.database_url)

    def share(seconds: float) -> float:
        return 100 * seconds / outcome.seconds

    return Measured(
        outcome,
        server=share(meter.used(servers, start, end)),
        postgres=share(meter.used(backends, start, end)),
        loadgen=share(outcome.cpu_seconds),
        bench=share(meter.used([os.getpid()], start, end)),
        machine=share(meter.machine_used(start, end)),
    )


async def _profile(bench: Bench, server: Server, connections: list[list[Request]]) -> Counter[str]:
    """Apply a load again and sample the servers' stacks for `profiled_s` after its warm-up."""
    size = bench.size
    load = Load(server.port, connections, size.profiled_s + 2 * LOADGEN_START_S, size.warmup_s)
    running = asyncio.ensure_future(loadgen.run(load))
    await asyncio.sleep(LOADGEN_START_S + size.warmup_s)
    try:
        return await spy(server.process.pid, size.profiled_s)
    finally:
        await running


async def _postmaster(url: str) -> int:
    """The pid of the PostgreSQL server's postmaster (it must run on this machine)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        postmaster = parent_of(await connection.fetchval("SELECT pg_backend_pid()"))
    finally:
        await connection.close()
    if postmaster is None:
        raise RuntimeError("PostgreSQL's processes are not visible: it must run on this machine")
    return postmaster


async def _backends(url: str) -> list[int]:
    """The pids of the backends connected to the database at `url`, but this query's."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def _throughput(step: Step) -> list[object]:
    outcomes = [step.measured[load].outcome for load in LOADS]
    return [
        step.processes,
        *(value for outcome in outcomes for value in (outcome.rate, outcome.p99_ms)),
        " / ".join(str(outcome.errors) for outcome in outcomes),
    ]


def _cpu_rows(steps: Sequence[Step], load: str) -> list[list[object]]:
    """Per part, each step's CPU in % of one core: the servers' parts, then PostgreSQL, the
    load generator, the bench and the rest of the machine, then the totals."""
    parts: list[dict[str, float]] = []
    for step in steps:
        measured, samples = step.measured[load], step.profiled[load]
        total = sum(samples.values()) or 1
        parts.append(
            {
                **{f"server: {part}": measured.server * n / total for part, n in samples.items()},
                "PostgreSQL backends": measured.postgres,
                "load generator": measured.loadgen,
                "the bench itself (sampling /proc)": measured.bench,
                "rest of the machine": measured.machine
                - measured.server
                - measured.postgres
                - measured.loadgen
                - measured.bench,
            }
        )
    names = sorted(
        {name for step in parts for name in step}, key=lambda name: -parts[0].get(name, 0)
    )
    by_step = [step.measured[load] for step in steps]
    return [
        *([name, *(step.get(name, 0.0) for step in parts)] for name in names),
        ["server processes, all parts", *(each.server for each in by_step)],
        ["machine busy", *(each.machine for each in by_step)],
        [
            "server CPU per request, ms",
            *(
                10 * each.server / each.outcome.rate if each.outcome.rate else float("nan")
                for each in by_step
            ),
        ],
    ]
