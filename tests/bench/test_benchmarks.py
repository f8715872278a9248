"""Every benchmark runs end to end at its quick sizes and prints its tables.

Nothing here is timed: the numbers are the benchmarks' business (docs/benchmarks.md). These
tests only keep `python -m bench` working.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.replica import require_server_binaries
from tests.services import POSTGRES_URL, require_postgres

REPOSITORY = Path(__file__).resolve().parents[2]
# Each benchmark, and words its tables must print.
EXPECTED = {
    "generation": ("new project s", "no-op generate s", "check s"),
    "commands": ("generated cmd/s", "hand-written cmd/s", "ratio a/b"),
    "runtime": ("fluvius cmd/s", "eventsourcing cmd/s", "Where a sequential fluvius command"),
    "queries": ("page 100 by cursor", "p99 ms"),
    "replay": ("SQLite", "PostgreSQL", "events/s"),
    "memory": ("idle RSS MiB", "under-load RSS MiB"),
    "streams": ("events/s", "lag p99 ms", "cmd/s"),
    "live": ("commit-to-delivery p99 ms", "RSS per idle subscriber KiB", "no subscriber"),
    "replicas": ("from replica", "its token", "p99 ms"),
    "rules": ("reads one other aggregate", "async handler", "a/b"),
    "media": ("upload MB/s", "download MB/s", "peak above idle MiB"),
    "views": ("PostgreSQL", "events/s", "lag p99 ms"),
    "scaleout": ("deposit/s", "get one/s", "Where the CPU goes under list", "PostgreSQL backends"),
}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_benchmark_prints_its_tables(name: str) -> None:
    require_postgres()
    if name == "replicas":
        require_server_binaries()
    result = _bench(name, "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    for words in EXPECTED[name]:
        assert words in result.stdout, f"{words!r} missing from:\n{result.stdout}"
    assert f"{name} took" in result.stdout


def test_an_unknown_benchmark_is_refused_with_the_choices() -> None:
    result = _bench("nonesuch")
    assert result.returncode == 2
    assert "no benchmark nonesuch; choose from generation, commands" in result.stderr


def _bench(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m bench ARGUMENTS`, on the tests' PostgreSQL server, with wide tables."""
    return subprocess.run(
        [sys.executable, "-m", "bench", *arguments],
        cwd=REPOSITORY,
        env={**os.environ, "FLUVIUS_BENCH_POSTGRES": POSTGRES_URL, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
