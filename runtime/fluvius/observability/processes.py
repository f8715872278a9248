"""Metrics of a service served by several processes: each writes its instruments to files in one
directory, and a scrape of any of them reads them all (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics(processes: int) -> Iterator[None]:
    """With more than one process, a fresh directory for their metrics (files left by an earlier
    run would count again), named in the environment the processes inherit; removed at the end."""
    if processes < 2:
        yield
        return
    directory = tempfile.mkdtemp(prefix="fluvius-metrics-")
    os.environ[MULTIPROCESS_DIRECTORY] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIRECTORY]
        shutil.rmtree(directory, ignore_errors=True)
