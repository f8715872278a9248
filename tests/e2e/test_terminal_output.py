"""In a pipe, the verbs' tables are plain lines that keep every path and name whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius

DOMAIN = "customer_relationship_and_loyalty"  # names of 33 and 31 characters, within the 40 allowed
AGGREGATE = "membership_subscription_renewal"
LONG_TEST = f"tests/_generated/test_{DOMAIN}_{AGGREGATE}_http.py"
WORKER = "send-out-the-membership-renewal-notes"  # 38 characters


@pytest.fixture
def long_root(projects: ProjectFactory, tmp_path: Path) -> Path:
    """The bank project deep in long folder names, with a domain and aggregate of long names."""
    folder = tmp_path / "a-rather-long-folder-for-projects" / "and-one-more-inside-of-it"
    folder.mkdir(parents=True)
    return projects.copy("bank", folder)


def piped(root: Path, *arguments: str) -> list[str]:
    """The lines a fluvius verb prints on stdout into a pipe, 80 columns or not."""
    result = subprocess.run(
        [sys.executable, "-m", "fluvius_cli", *arguments, "--project", str(root)],
        capture_output=True,  # stdout is a pipe
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    return result.stdout.splitlines()


def test_the_action_table_keeps_long_paths_whole(long_root: Path) -> None:
    fluvius("add", "domain", DOMAIN, cwd=long_root)
    added = fluvius("add", "aggregate", f"{DOMAIN}.{AGGREGATE}", cwd=long_root)  # CliRunner
    assert len(LONG_TEST) > 80
    assert f"create  {LONG_TEST}" in added.splitlines()
    lines = piped(long_root, "generate", "--dry-run")
    assert lines[0] == "action     file"
    assert f"unchanged  {LONG_TEST}" in lines
    assert all(line == line.rstrip() for line in lines)


def test_workers_keeps_its_rows_on_one_line_each(long_root: Path) -> None:
    fluvius("add", "worker", "banking", WORKER, "--cron", "0 2 * * mon-fri", cwd=long_root)
    fluvius("migrate", cwd=long_root)
    lines = piped(long_root, "workers")
    assert lines[0].split() == [
        "worker",
        "trigger",
        "checkpoint",
        "lag",
        "waiting",
        "done",
        "retrying",
        "dead",
    ]
    [row] = [line for line in lines if line.startswith(WORKER)]
    assert row.split() == [
        WORKER,
        "cron",
        "0",
        "2",
        "*",
        "*",
        "mon-fri",
        "-",
        "-",
        "0",
        "0",
        "0",
        "0",
    ]
