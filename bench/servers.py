"""Servers under test: each in a process group of its own, ready once it answers, always stopped.

`serve` starts a command (`fluvius run`, or uvicorn for a hand-written app), waits until every
uvicorn worker has started and `/healthz` answers 200, and on leaving the block, by error or
Ctrl-C too, terminates the whole process group (`running` does the same for a process that
serves no port: `fluvius run worker`). `Server.rss_bytes` sums the resident memory of
the server's process tree, `Server.cpu_seconds` the CPU time it used.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import Connection, Headers, Request, send_all
from bench.processes import cpu_seconds, process_tree, status_kib
from tests.network import free_port as free_port  # the benchmarks take it from here

UVICORN_STARTED = b"Application startup complete"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
HEALTH = Request("GET", "/healthz").encode()


@dataclass(frozen=True)
class Server:
    """A running server: the root process of its tree, its port, and the file of its output."""

    process: asyncio.subprocess.Process
    port: int
    log: Path

    def pids(self) -> list[int]:
        """The server's process and all its descendants."""
        return process_tree(self.process.pid)

    def rss_bytes(self) -> int:
        """The resident memory of the server's process and all its descendants."""
        return sum(status_kib(pid, "VmRSS") * 1024 for pid in self.pids())

    def cpu_seconds(self) -> float:
        """The CPU time (user and system) the server's living processes have used so far."""
        return sum(cpu_seconds(pid) or 0.0 for pid in self.pids())


def fluvius_run(root: Path, port: int, *, workers: int = 1) -> list[str]:
    """The command that serves the project at `root`, as a user would."""
    return [
        *(sys.executable, "-m", "fluvius_cli", "run", "--project", str(root)),
        *("--port", str(port), "--workers", str(workers)),
    ]


def fluvius_worker(root: Path) -> list[str]:
    """The command that runs a worker process of the project at `root` (arq, on Redis)."""
    return [sys.executable, "-m", "fluvius_cli", "run", "worker", "--project", str(root)]


def uvicorn_run(app: str, port: int, *, workers: int = 1) -> list[str]:
    """uvicorn serving `app` as `fluvius run` serves a project: uvloop, httptools, no access
    log."""
    return [
        *(sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(workers), "--loop", "uvloop", "--http", "httptools"),
        "--no-access-log",
    ]


@asynccontextmanager
async def serve(
    command: Sequence[str],
    *,
    port: int,
    log: Path,
    environment: Mapping[str, str] | None = None,
    workers: int = 1,
) -> AsyncIterator[Server]:
    """Run `command`, a server of `workers` uvicorn workers on `port`, for the block."""
    async with running(command, log=log, environment=environment) as process:
        await _ready(process, port, log, workers)
        yield Server(process, port, log)


@asynccontextmanager
async def running(
    command: Sequence[str], *, log: Path, environment: Mapping[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `command` for the block, its output in `log`."""
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            env={**os.environ, **(environment or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        await _stop(process)


async def _ready(process: asyncio.subprocess.Process, port: int, log: Path, workers: int) -> None:
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{_tail(log)}")
        if _count(log, UVICORN_STARTED) >= workers and await _healthy(port):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {READY_TIMEOUT_S:.0f} s:\n{_tail(log)}")


async def _healthy(port: int) -> bool:
    try:
        connection = await Connection.open(port)
    except OSError:
        return False
    try:
        status, _ = await connection.send(HEALTH)
        return status == 200
    except ConnectionError:
        return False
    finally:
        connection.close()


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Terminate the process group, then kill whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def _count(log: Path, marker: bytes) -> int:
    return log.read_bytes().count(marker)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def generated_environment(database_url: str) -> dict[str, str]:
    """The environment of a generated service on `database_url`, without in-process workers."""
    return {"FLUVIUS_DATABASE_URL": database_url, "FLUVIUS_WORKERS": "off"}


def bearer_headers(root: Path, role: str = "teller") -> Headers:
    """Headers of JSON requests with a token for `role`, as `fluvius token` mints it."""
    from fluvius.fastapi.auth import mint_token
    from fluvius.settings import Settings

    token = mint_token(Settings.load(root.name, root), "bench", (role,), ttl=dt.timedelta(hours=2))
    return (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"))


async def create(port: int, path: str, bodies: Sequence[str], headers: Headers) -> list[str]:
    """POST each of `bodies` to the creating command at `path`; the ids of the new aggregates."""
    requests = [Request("POST", path, body, headers) for body in bodies]
    replies = await send_all(port, requests, connections=8)
    failed = [(status, body) for status, body in replies if status != 201]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(bodies)} creations failed, first: {failed[0]}")
    return [str(json.loads(body)["data"]["id"]) for _, body in replies]
