"""Resident memory of a served project: 50 aggregates (5 when quick) against the bank's one.

Each project is migrated on a scratch PostgreSQL database and served by `fluvius run` (one
worker, no in-process workers). Idle is measured once every route has answered a request on
every aggregate; under load, while clients deposit in a closed loop on rows of their own, spread
over all the aggregates.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench import loadgen
from bench.loadgen import Headers, Load, Request, send_all
from bench.postgres import scratch_database
from bench.projects import example_project, fluvius, import_service, spec_project
from bench.report import show
from bench.servers import (
    bearer_headers,
    create,
    fluvius_run,
    free_port,
    generated_environment,
    serve,
)
from bench.specs import spec
from fluvius.domain.aggregate import CommandHandler

MIB = 2**20
DEPOSIT = '{"amount": "1"}'
COLUMNS = (
    "project",
    "idle RSS MiB",
    "under-load RSS MiB (peak)",
    "under-load RSS MiB (steady)",
    "commands/s during load",
)


@dataclass(frozen=True)
class Aggregate:
    """The routes of one aggregate, and the body of its creating command."""

    domain: str
    name: str
    creating: str
    create_body: str

    def create_path(self) -> str:
        return f"/{self.domain}:{self.creating}/{self.name}/:new"

    def deposit(self, id: str, headers: Headers) -> Request:
        return Request("POST", f"/{self.domain}:deposit/{self.name}/{id}", DEPOSIT, headers)

    def reads(self, id: str, headers: Headers) -> list[Request]:
        base = f"/{self.domain}.{self.name}"
        return [Request("GET", path, "", headers) for path in (f"{base}/", f"{base}/{id}")] + [
            Request("GET", f"{base}/{id}/events", "", headers)
        ]


@dataclass(frozen=True)
class Project:
    """A project to serve, made in `folder` and migrated on `database_url`."""

    label: str
    make: Callable[[Path, str], Path]
    package: str
    create_body: str


@dataclass(frozen=True)
class Run:
    """The size of the big project, how many clients load each server, and for how long."""

    aggregates: int
    clients: int
    duration_s: float
    warmup_s: float


def main(quick: bool = False) -> None:
    """Print the RSS of the bank and of a 50-aggregate project, idle and under load."""
    run = Run(5, 4, 1.0, 0.3) if quick else Run(50, 32, 10.0, 2.0)
    projects = [
        Project("bank (1 aggregate)", _bank, "bank", _BANK_OPENING),
        Project(f"{run.aggregates} aggregates", _big(run.aggregates), "big", '{"owner": "bench"}'),
    ]
    rows = asyncio.run(_measure_all(projects, run))
    show(
        "RSS of `fluvius run` (1 uvicorn worker, process tree) on PostgreSQL",
        COLUMNS,
        rows,
        f"idle: after one request on every route of every aggregate and /openapi.json; "
        f"under load: {run.clients} clients depositing for {run.duration_s:.0f} s, "
        "sampled every 0.2 s (steady: the median sample)",
    )


_BANK_OPENING = '{"owner": "bench", "initial_deposit": "0", "opened_on": "2026-01-01"}'


def _bank(folder: Path, database_url: str) -> Path:
    return example_project("bank", folder, database_url=database_url)


def _big(aggregates: int) -> Callable[[Path, str], Path]:
    def make(folder: Path, database_url: str) -> Path:
        root = spec_project("big", spec(aggregates), folder)
        fluvius("migrate", "--project", str(root), database_url=database_url)
        return root

    return make


async def _measure_all(projects: list[Project], run: Run) -> list[tuple[object, ...]]:
    with tempfile.TemporaryDirectory(prefix="fluvius-bench-") as folder:
        return [await _measure(project, Path(folder), run) for project in projects]


async def _measure(project: Project, folder: Path, run: Run) -> tuple[object, ...]:
    """Serve `project` on a database of its own; its row of the table."""
    async with scratch_database() as url:
        root = await asyncio.to_thread(project.make, folder, url)
        aggregates = _aggregates(root, project)
        headers = bearer_headers(root)
        port = free_port()
        command = fluvius_run(root, port)
        log = folder / f"{project.package}.log"
        async with serve(
            command, port=port, log=log, environment=generated_environment(url)
        ) as server:
            await _visit_every_route(port, aggregates, headers)
            await asyncio.sleep(1.0)
            idle = server.rss_bytes()
            connections = await _deposits(port, aggregates, headers, run.clients)
            samples: list[int] = []
            outcome = await loadgen.run(
                Load(port, connections, run.duration_s, run.warmup_s),
                tick=lambda: samples.append(server.rss_bytes()),
            )
    if outcome.errors:
        raise RuntimeError(f"{project.label}: {outcome.errors} requests failed: {outcome.statuses}")
    return (
        project.label,
        idle / MIB,
        max(samples) / MIB,
        statistics.median(samples) / MIB,
        outcome.rate,
    )


def _aggregates(root: Path, project: Project) -> list[Aggregate]:
    """The aggregates of the project at `root`, as its generated service declares them."""
    service = import_service(root, project.package)
    return [
        Aggregate(a.domain, a.name, _creating(a.commands), project.create_body)
        for a in service.aggregates()
    ]


def _creating(commands: Mapping[str, CommandHandler]) -> str:
    return next(name for name, handler in commands.items() if handler.create)


async def _visit_every_route(port: int, aggregates: list[Aggregate], headers: Headers) -> None:
    """One request on every route of every aggregate, and on the service's own routes."""
    for aggregate in aggregates:
        (id,) = await create(port, aggregate.create_path(), [aggregate.create_body], headers)
        requests = [aggregate.deposit(id, headers), *aggregate.reads(id, headers)]
        await _expect_ok(send_all(port, requests, connections=1))
    service = [Request("GET", path) for path in ("/healthz", "/readyz", "/openapi.json")]
    await _expect_ok(send_all(port, service, connections=1))


async def _expect_ok(replies: Awaitable[list[tuple[int, bytes]]]) -> None:
    failed = [(status, body[:200]) for status, body in await replies if status != 200]
    if failed:
        raise RuntimeError(f"requests failed: {failed}")


async def _deposits(
    port: int, aggregates: list[Aggregate], headers: Headers, clients: int
) -> list[list[Request]]:
    """Each client's deposits: on a row of its own in each of its share of the aggregates."""
    shares = [
        [a for n, a in enumerate(aggregates) if n % clients == client]
        or [aggregates[client % len(aggregates)]]
        for client in range(clients)
    ]
    connections = []
    for share in shares:
        ids = [(await create(port, a.create_path(), [a.create_body], headers))[0] for a in share]
        connections.append([a.deposit(id, headers) for a, id in zip(share, ids, strict=True)])
    return connections
