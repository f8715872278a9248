"""Watching benchmark subprocesses: their peak memory while they run."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

POLL_S = 0.005


def peak_rss_mib(process: subprocess.Popen[bytes]) -> float:
    """Wait for `process` to exit; its peak resident set (the kernel's VmHWM), in MiB.

    Read from /proc while it runs: the rusage of a child counts the memory of the parent it was
    forked from, which would hide the child's own peak.
    """
    peak_kib = 0
    while process.poll() is None:
        peak_kib = max(peak_kib, _status_kib(process.pid, "VmHWM"))
        time.sleep(POLL_S)
    return peak_kib / 1024


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
