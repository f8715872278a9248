"""What `./dev demo` prints works as printed: its curl lines, run by a shell against the served
bank, follow an account live and show the deposit they then make."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from fluvius_cli.demo import instructions
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, start_run, wait_until_ready

pytestmark = pytest.mark.slow

FOLLOWED_S = 2  # how long the backgrounded follow runs after the deposit


def printed_commands(instructions: str) -> str:
    """The shell lines of the demo's instructions (those it indents), as one script."""
    return "\n".join(line for line in instructions.splitlines() if line.startswith("  "))


def test_the_demo_s_lines_follow_an_account_live_and_show_its_deposit(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    fluvius("migrate", cwd=root)
    running = start_run(root, tmp_path / "run.log")
    try:
        asyncio.run(wait_until_ready(running.base_url, running.process, running.log))
        script = printed_commands(instructions(root, running.base_url))
        script += f"\nsleep {FOLLOWED_S}\nkill $!\n"
        shell = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        running.process.terminate()
        running.process.wait(timeout=30)
    streamed = [
        json.loads(line.removeprefix("data: "))
        for line in shell.stdout.splitlines()
        if line.startswith("data: ")
    ]
    assert [change["event"]["data"].get("amount") for change in streamed] == [None, "5"], (
        shell.stdout + shell.stderr
    )
    assert streamed[-1]["state"]["balance"] == "105"
