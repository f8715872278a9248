"""Commands over HTTP on PostgreSQL: the generated bank service against a hand-written floor.

Both servers run `deposit` on the same migrated database, one after the other at each point.
Every client deposits in a closed loop on an account of its own, so no client waits on another's
row lock. The hand-written endpoint (bench/handwritten.py) runs the same SQL in one transaction,
without authentication, authorization or the runtime: the ratio is what the stack costs.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import loadgen
from bench.loadgen import Headers, Load, Outcome, Request
from bench.postgres import scratch_database
from bench.projects import REPOSITORY, example_project
from bench.report import show
from bench.servers import (
    bearer_headers,
    create,
    fluvius_run,
    free_port,
    generated_environment,
    serve,
    uvicorn_run,
)

CLIENTS = (1, 4, 16, 32, 64)
QUICK_CLIENTS = (4,)
WORKERS = (1, os.cpu_count() or 2)
# The generated service keeps up to FLUVIUS_DB_POOL_SIZE (20) connections: give the hand-written
# endpoint as many.
POOL_SIZE = 20
COLUMNS = (
    "clients",
    "generated cmd/s",
    "p50 ms",
    "p99 ms",
    "hand-written cmd/s",
    "p50 ms",
    "p99 ms",
    "ratio a/b",
    "errors a/b",
)
DEPOSIT = '{"amount": "1"}'


@dataclass(frozen=True)
class Bench:
    """The bank project, its database, and how long each point runs."""

    root: Path
    database_url: str
    folder: Path
    clients: tuple[int, ...]
    duration_s: float
    warmup_s: float


def main(quick: bool = False) -> None:
    """Print one table per number of uvicorn workers."""
    asyncio.run(_main(quick))


async def _main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="fluvius-bench-") as folder:
        async with scratch_database() as url:
            root = await asyncio.to_thread(example_project, "bank", Path(folder), database_url=url)
            bench = Bench(
                root,
                url,
                Path(folder),
                QUICK_CLIENTS if quick else CLIENTS,
                duration_s=1.0 if quick else 5.0,
                warmup_s=0.3 if quick else 2.0,
            )
            for workers in WORKERS:
                rows = await _compare(bench, workers)
                show(
                    f"deposit commands/s, {workers} uvicorn worker(s): "
                    "(a) generated bank service, (b) hand-written FastAPI + asyncpg",
                    COLUMNS,
                    rows,
                    f"{bench.duration_s:.0f} s per point after {bench.warmup_s:.0f} s of warm-up; "
                    "each client deposits on its own account over one keep-alive connection",
                )


async def _compare(bench: Bench, workers: int) -> list[tuple[object, ...]]:
    """Serve both endpoints with `workers` workers and load them in turn at each point."""
    generated_port, handwritten_port = free_port(), free_port()
    generated = serve(
        fluvius_run(bench.root, generated_port, workers=workers),
        port=generated_port,
        log=bench.folder / f"generated-{workers}.log",
        environment=generated_environment(bench.database_url),
        workers=workers,
    )
    handwritten = serve(
        uvicorn_run("bench.handwritten:app", handwritten_port, workers=workers),
        port=handwritten_port,
        log=bench.folder / f"handwritten-{workers}.log",
        environment={
            "BENCH_DATABASE_URL": bench.database_url,
            "BENCH_POOL_SIZE": str(POOL_SIZE),
            "PYTHONPATH": str(REPOSITORY),
        },
        workers=workers,
    )
    headers = bearer_headers(bench.root)
    async with generated, handwritten:
        accounts = await open_accounts(generated_port, headers, max(bench.clients))
        rows: list[tuple[object, ...]] = []
        for clients in bench.clients:
            connections = deposits(accounts[:clients], headers)
            a = await loadgen.run(_load(bench, generated_port, connections))
            b = await loadgen.run(_load(bench, handwritten_port, connections))
            rows.append(_row(clients, a, b))
        return rows


async def open_accounts(port: int, headers: Headers, count: int) -> list[str]:
    """Open `count` bank accounts on the server at `port`; their ids."""
    bodies = [
        f'{{"owner": "client-{n}", "initial_deposit": "100", "opened_on": "2026-01-01"}}'
        for n in range(count)
    ]
    return await create(port, "/banking:open-account/account/:new", bodies, headers)


def deposits(accounts: list[str], headers: Headers) -> list[list[Request]]:
    """One connection per account, depositing on it again and again."""
    return [
        [Request("POST", f"/banking:deposit/account/{account}", DEPOSIT, headers)]
        for account in accounts
    ]


def _load(bench: Bench, port: int, connections: list[list[Request]]) -> Load:
    return Load(port, connections, duration_s=bench.duration_s, warmup_s=bench.warmup_s)


def _row(clients: int, a: Outcome, b: Outcome) -> tuple[object, ...]:
    ratio = a.rate / b.rate if b.rate else float("nan")
    return (
        clients,
        a.rate,
        a.p50_ms,
        a.p99_ms,
        b.rate,
        b.p50_ms,
        b.p99_ms,
        ratio,
        f"{a.errors} / {b.errors}",
    )
