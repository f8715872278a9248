"""Deposits at N clients against a served bank project while a watcher takes the lag of a reader
of its log: the run the streams and views benchmarks share.

Each run serves its project with `fluvius run` and in-process workers polling every `POLL_S`
seconds, or (`worker_process`) with its workers in a process of their own, `fluvius run worker`
on Redis (`FLUVIUS_BENCH_REDIS`, a database the run empties first), as a service that outgrows
one process runs them; it opens an account per client, then lets each client deposit on its own
account in a closed loop (as the commands benchmark does). The watcher, when the run has one,
collects a lag per event, in milliseconds, from the end of the warm-up to the end of the run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

from bench import loadgen
from bench.commands import deposits, open_accounts
from bench.loadgen import Load, Outcome
from bench.report import percentile
from bench.servers import bearer_headers, fluvius_run, fluvius_worker, free_port, running, serve

POLL_S = "0.05"
REDIS_URL = os.environ.get("FLUVIUS_BENCH_REDIS", "redis://127.0.0.1:6379/15")
COLUMNS = ("cmd/s", "p50 ms", "p99 ms", "lag p50 ms", "lag p99 ms", "lag max ms")

Watcher = Callable[[], AbstractAsyncContextManager[list[float]]]
"""Collects lags (ms) into the list it yields while its block runs."""


@dataclass(frozen=True)
class Run:
    """One served run: its label in the table, the project, its settings and its watcher."""

    label: str
    root: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    watcher: Watcher | None = None
    worker_process: bool = False


@dataclass(frozen=True)
class Measured:
    """What one run measured: the commands' outcome and the watcher's lags (ms)."""

    label: str
    outcome: Outcome
    lags: list[float]

    def row(self) -> tuple[object, ...]:
        """The run's row of a table of `COLUMNS` after its label."""
        return (
            self.label,
            self.outcome.rate,
            self.outcome.p50_ms,
            self.outcome.p99_ms,
            percentile(self.lags, 0.5),
            percentile(self.lags, 0.99),
            max(self.lags, default=float("nan")),
        )


async def deposits_under_load(
    run: Run, folder: Path, clients: int, duration: tuple[float, float]
) -> Measured:
    """Serve `run`'s project and load it with `clients` depositing clients for `duration`
    (seconds measured, seconds of warm-up before)."""
    port = free_port()
    headers = bearer_headers(run.root)
    environment = {"FLUVIUS_WORKER_POLL_SECONDS": POLL_S, **run.environment}
    async with AsyncExitStack() as stack:
        if run.worker_process:
            environment["FLUVIUS_REDIS_URL"] = REDIS_URL
            async with Redis.from_url(REDIS_URL) as redis:
                await redis.flushdb()
            worker = fluvius_worker(run.root)
            log = folder / f"{run.label}.worker.log"
            await stack.enter_async_context(running(worker, log=log, environment=environment))
        log = folder / f"{run.label}.log"
        await stack.enter_async_context(
            serve(fluvius_run(run.root, port), port=port, log=log, environment=environment)
        )
        accounts = await open_accounts(port, headers, clients)
        load = Load(port, deposits(accounts, headers), duration_s=duration[0], warmup_s=duration[1])
        if run.watcher is None:
            return Measured(run.label, await loadgen.run(load), [])
        counting = asyncio.create_task(loadgen.run(load))
        await asyncio.sleep(load.warmup_s)
        async with run.watcher() as lags:
            outcome = await counting
        return Measured(run.label, outcome, lags)
