"""Generation speed: `fluvius new project` and a no-op `fluvius generate`, 1 to 100 aggregates.

Each run is a fresh `fluvius` process, timed from start to exit, with its peak RSS (VmHWM).
The skeleton cache is warmed once first, as on any machine after its first project.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.processes import peak_rss_mib
from bench.report import show
from bench.specs import spec

SIZES = (1, 20, 50, 100)
QUICK_SIZES = (1, 20)


@dataclass(frozen=True)
class Run:
    """One fluvius process: seconds from start to exit, and its peak resident memory."""

    seconds: float
    peak_mib: float


def timed_fluvius(*arguments: str, cwd: Path, environment: dict[str, str]) -> Run:
    """Run `fluvius ARGUMENTS` in a process of its own and measure it."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "fluvius_cli", *arguments],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak = peak_rss_mib(process)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise RuntimeError(f"fluvius {' '.join(arguments)} failed:\n{error}")
    return Run(seconds, peak)


def main(quick: bool = False) -> None:
    """Print the generation table."""
    repeats = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="fluvius-bench-") as scratch:
        folder = Path(scratch)
        environment = {**os.environ, "FLUVIUS_CACHE_DIR": str(folder / "cache")}
        rows = [
            _measure(size, folder, environment, repeats)
            for size in (QUICK_SIZES if quick else SIZES)
        ]
    show(
        f"Generation (median of {repeats} runs; seconds, peak RSS in MiB)",
        ["aggregates", "files", "new project s", "MiB", "no-op generate s", "MiB", "check s"],
        rows,
        note="new project = skeleton (copier) + code + ruff + first alembic revision.",
    )


def _measure(size: int, folder: Path, environment: dict[str, str], repeats: int) -> list[object]:
    source = folder / f"spec{size}.yaml"
    source.write_text(spec(size))

    def new(index: int) -> Run:
        target = folder / f"p{size}-{index}"
        return timed_fluvius(
            "new",
            "project",
            "big",
            "--spec",
            str(source),
            "--dir",
            str(target),
            cwd=folder,
            environment=environment,
        )

    new(-1)  # warms the skeleton cache and the file system
    created = [new(index) for index in range(repeats)]
    root = folder / f"p{size}-0"
    generated = [
        timed_fluvius("generate", cwd=root, environment=environment) for _ in range(repeats)
    ]
    checked = [
        timed_fluvius("check", str(source), cwd=folder, environment=environment)
        for _ in range(repeats)
    ]
    files = sum(1 for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    return [
        size,
        files,
        statistics.median(run.seconds for run in created),
        statistics.median(run.peak_mib for run in created),
        statistics.median(run.seconds for run in generated),
        statistics.median(run.peak_mib for run in generated),
        statistics.median(run.seconds for run in checked),
    ]
