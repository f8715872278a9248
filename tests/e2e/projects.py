"""Generated projects for end-to-end tests: made through the real CLI, imported, served."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from fluvius.cli import application
from fluvius.data import Database
from fluvius.service import Service
from fluvius.settings import Settings
from fluvius.testing.api import Api, serving, test_settings
from tests.network import free_port
from tests.tables import create_all

runner = CliRunner()
app = application()


def fluvius(*arguments: str, cwd: Path | None = None) -> str:
    """Run the fluvius CLI in-process on the project at `cwd`; return its output (exit 0)."""
    return fluvius_exits(0, *arguments, cwd=cwd)


def fluvius_fails(*arguments: str, cwd: Path | None = None) -> str:
    """Run the fluvius CLI, expecting it to exit with 1; return its output."""
    return fluvius_exits(1, *arguments, cwd=cwd)


def fluvius_exits(code: int, *arguments: str, cwd: Path | None = None) -> str:
    """Run the fluvius CLI, expecting exit status `code` (2: a usage error); return its output."""
    command = [*arguments]
    if cwd is not None and arguments[0] not in ("new", "check", "schema"):
        command += ["--project", str(cwd)]
    result = runner.invoke(app, command, catch_exceptions=False)
    assert result.exit_code == code, (
        f"fluvius {' '.join(arguments)} exited {result.exit_code}:\n{result.output}"
    )
    return result.output


def run_pytest(
    root: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The generated project's own tests, in a process of their own (with `env` added)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )


def assert_linters_pass(root: Path) -> None:
    """ruff (lint and format) and mypy (strict, as the project configures it) pass on `root`."""
    for linter in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]):
        result = subprocess.run(
            [sys.executable, "-m", *linter], cwd=root, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{' '.join(linter)}:\n{result.stdout}{result.stderr}"


def import_service(root: Path, package: str) -> Service:
    """The generated service of the project at `root`, imported afresh."""
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]
    if str(root) in sys.path:  # first on the path, ahead of other projects with that package
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    service: Service = importlib.import_module(f"{package}._generated.service").SERVICE
    return service


async def prepared(service: Service, database_url: str, **changes: Any) -> Settings:
    """The service's test settings, with `changes`, on a database now holding its tables."""
    database = Database(database_url)
    try:
        await create_all(database, (service.metadata,))
    finally:
        await database.dispose()
    return replace(test_settings(service, database_url), **changes)


@asynccontextmanager
async def served(service: Service, database_url: str, **changes: Any) -> AsyncIterator[Api]:
    """The service's app on a database holding its tables, with `changes` to its settings."""
    async with serving(service, await prepared(service, database_url, **changes)) as api:
        yield api


@dataclass
class Running:
    """A `fluvius run` process, the loopback port it serves, the file its stderr goes to."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_run(
    project: Path, log: Path, *options: str, env: Mapping[str, str] = os.environ
) -> Running:
    """`fluvius run` of the project at `root` on a free port, with `options` and environment
    `env`, in a process of its own."""
    port = free_port()
    command = ["run", "--project", str(project), "--port", str(port), *options]
    process = subprocess.Popen(
        [sys.executable, "-m", "fluvius_cli", *command],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    return Running(process, port, log)


def fluvius_process(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """A verb of the project's CLI in a process of its own (beside a test's event loop)."""
    command = [sys.executable, "-m", "fluvius_cli", *arguments, "--project", str(project)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (outside caches), by relative path, with its bytes."""
    skipped = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "var"}
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not skipped & set(path.relative_to(root).parts)
    }


async def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait (60 s at most) until the `fluvius run` process at `base_url` answers /readyz."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, _text(log)
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"`fluvius run` at {base_url} never became ready:\n{_text(log)}")


def _text(log: Path) -> str:
    return log.read_text()
