"""Run the benchmarks: `python -m bench` for all of them, `python -m bench NAME...` for some."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time

from bench.report import console

BENCHMARKS = {
    "generation": "new project and no-op generate, 1 to 100 aggregates",
    "commands": "commands over HTTP on PostgreSQL: generated service vs hand-written endpoint",
    "runtime": "the command runtime without HTTP vs the eventsourcing library",
    "queries": "filter, sort and paging on a state table of 1,000,000 rows",
    "replay": "rebuilding state from 1,000,000 events, SQLite and PostgreSQL",
    "memory": "RSS of a served 50-aggregate project, idle and under load",
    "streams": "a relay publishing to NATS JetStream: backlog rate, and lag under commands",
    "live": "WebSocket subscribers on one instance: delivery latency, memory, command throughput",
    "replicas": "reads from a streaming replica, with and without a consistency token",
    "rules": "a rule reading another aggregate, and an async handler, against a plain handler",
    "media": "upload and download throughput, local and S3; server memory during a 1 GB upload",
    "views": "a view rebuilt from 1,000,000 events, and its lag under 32 depositing clients",
    "scaleout": "commands/s and queries/s with 1, 2 and 4 server processes, and where CPU goes",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"any of: {', '.join(BENCHMARKS)} (default: all)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and short runs: proves they work, no more"
    )
    options = parser.parse_args()
    unknown = [name for name in options.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    console.print(machine())
    for name in options.names or list(BENCHMARKS):
        console.rule(f"{name}: {BENCHMARKS[name]}")
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main(quick=options.quick)
        console.print(f"[dim]{name} took {time.perf_counter() - started:.0f} s[/]\n")


def machine() -> str:
    """What the numbers were measured on."""
    cpu = _first_line("/proc/cpuinfo", "model name") or platform.processor()
    memory_kib = int((_first_line("/proc/meminfo", "MemTotal") or "0 kB").split()[0])
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
        f"{_postgres_version()}"
    )


def _first_line(path: str, key: str) -> str | None:
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _postgres_version() -> str:
    import asyncio

    import asyncpg

    from bench.postgres import SERVER_URL

    async def version() -> str:
        connection = await asyncpg.connect(SERVER_URL, timeout=5)
        try:
            return str(await connection.fetchval("show server_version"))
        finally:
            await connection.close()

    try:
        return f"PostgreSQL {asyncio.run(version())}"
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return "PostgreSQL unreachable"


if __name__ == "__main__":
    main()
