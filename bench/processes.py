"""Benchmark processes: a call in a fresh process of its own, and watching processes through
/proc: their memory, their CPU time, their trees."""

from __future__ import annotations

import bisect
import os
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

POLL_S = 0.005
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def alone(function: Callable[..., T], *arguments: object) -> T:
    """`function(*arguments)` called in a fresh (spawned) process, which imports only what it
    needs: what it measures is not skewed by this process's heap (a ledger of a million events
    makes every garbage collection long) or its memory. `function` must be importable."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *arguments).result()


def peak_rss_mib(process: subprocess.Popen[bytes]) -> float:
    """Wait for `process` to exit; its peak resident set (the kernel's VmHWM), in MiB.

    Read from /proc while it runs: the rusage of a child counts the memory of the parent it was
    forked from, which would hide the child's own peak.
    """
    peak_kib = 0
    while process.poll() is None:
        peak_kib = max(peak_kib, status_kib(process.pid, "VmHWM"))
        time.sleep(POLL_S)
    return peak_kib / 1024


def status_kib(pid: int, key: str) -> int:
    """A size of /proc/`pid`/status (VmRSS, VmHWM, ...) in KiB; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    return tree


def parent_of(pid: int) -> int | None:
    """The parent of process `pid`; None once it is gone."""
    stat = _stat(pid)
    return None if stat is None else int(stat[1])


def children_of(pid: int) -> list[int]:
    """The children of process `pid` (of its main thread, as the kernel lists them)."""
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float | None:
    """The CPU time process `pid` has used so far, user and system; None once it is gone."""
    stat = _stat(pid)
    return None if stat is None else (int(stat[11]) + int(stat[12])) / TICKS_PER_S


def machine_busy_seconds() -> float:
    """CPU time all cores of the machine have spent busy (not idle, not waiting on I/O)."""
    with open("/proc/stat") as lines:
        ticks = [int(value) for value in lines.readline().split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks[:8]) - idle - iowait) / TICKS_PER_S


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/`pid`/stat after the command's name: state, ppid, ..."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # it ended meanwhile
        return None
    return stat.rsplit(")", 1)[1].split()


@dataclass
class CpuMeter:
    """The CPU time of processes, and of the whole machine, sampled while a load runs; how much
    of it fell in a window is read off afterwards, interpolated between samples."""

    times: list[float] = field(default_factory=list)
    machine: list[float] = field(default_factory=list)
    processes: dict[int, list[tuple[float, float]]] = field(default_factory=dict)

    def sample(self, pids: Iterable[int]) -> None:
        """Record, at time.monotonic(), the CPU time of `pids` and of the machine."""
        now = time.monotonic()
        self.times.append(now)
        self.machine.append(machine_busy_seconds())
        for pid in pids:
            used = cpu_seconds(pid)
            if used is not None:
                self.processes.setdefault(pid, []).append((now, used))

    def used(self, pids: Iterable[int], start: float, end: float) -> float:
        """CPU seconds `pids` used between the monotonic times `start` and `end`."""
        return sum(
            _at(self.processes.get(pid, []), end) - _at(self.processes.get(pid, []), start)
            for pid in set(pids)
        )

    def machine_used(self, start: float, end: float) -> float:
        """CPU seconds the machine's cores were busy between `start` and `end`."""
        points = list(zip(self.times, self.machine, strict=True))
        return _at(points, end) - _at(points, start)


def _at(points: list[tuple[float, float]], when: float) -> float:
    """The value of the series `points` (time, value) at `when`: linear between samples, the
    first or last value outside them, 0 without any."""
    if not points:
        return 0.0
    index = bisect.bisect_left(points, (when,))
    if index == 0:
        return points[0][1]
    if index == len(points):
        return points[-1][1]
    (t0, v0), (t1, v1) = points[index - 1], points[index]
    return v0 + (v1 - v0) * (when - t0) / (t1 - t0)
