"""A PostgreSQL primary with streaming standbys of its own, for the tests of read replicas.

The servers are made with `initdb` and `pg_basebackup -R` in a temporary folder, on free ports of
127.0.0.1, and stopped and removed at the end: the machine's shared server is left alone. Where
the server binaries are absent the tests that need them are skipped, except under CI
(`CI=true`), where that fails them.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from fluvius.data.driver import wal_written
from fluvius.data.replicas import lsn_number
from tests.network import free_port

PG_BIN = Path(os.environ.get("FLUVIUS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"  # the account servers run as when the tests run as root
# Fast and small: the data is thrown away, and the machine is shared.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "'16MB'",
    "max_connections": "60",
    "hot_standby_feedback": "on",  # no query of a test cancelled by the replay of a vacuum
}


def require_server_binaries() -> None:
    """Skip the test when PostgreSQL's server binaries are absent; under CI, fail it."""
    if (PG_BIN / "initdb").exists() and (PG_BIN / "pg_basebackup").exists():
        return
    message = f"PostgreSQL's server binaries are not in {PG_BIN} (set FLUVIUS_TEST_PG_BIN)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI requires them")
    pytest.skip(message)


@dataclass
class Server:
    """One PostgreSQL server: its data folder and port."""

    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        """The server's URL for `database`."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        log = self.data.parent / f"{self.data.name}.log"
        _run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(log))

    def stop(self) -> None:
        """Stop the server, ending its connections."""
        _run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))


@dataclass
class Replication:
    """A primary and its standbys, each streaming the primary's WAL and replaying it."""

    primary: Server
    standbys: list[Server]

    def on(self, server: Server, database_url: str) -> str:
        """The URL of the database of `database_url` on `server`."""
        return server.url(make_url(database_url).database or "postgres")

    async def caught_up(self, *standbys: Server) -> None:
        """Wait until `standbys` (all of them by default) have replayed what the primary has
        written so far."""
        primary = await asyncpg.connect(self.primary.url())
        try:
            written = lsn_number(await wal_written(primary))
        finally:
            await primary.close()
        for standby in standbys or self.standbys:
            connection = await asyncpg.connect(standby.url())
            try:
                while True:
                    replayed = await connection.fetchval("SELECT pg_last_wal_replay_lsn()::text")
                    if lsn_number(replayed) >= written:
                        break
                    await asyncio.sleep(0.01)
            finally:
                await connection.close()


@contextmanager
def replicated_postgres(standbys: int) -> Iterator[Replication]:
    """A new primary with `standbys` streaming standbys, running for the block."""
    root = Path(tempfile.mkdtemp(prefix="fluvius-replicas-"))
    started: list[Server] = []
    try:
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(root, account.pw_uid, account.pw_gid)
        primary = Server(root / "primary", free_port())
        _run("initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-N")
        _configure(primary, root)
        primary.start()
        started.append(primary)
        backup = root / "backup"
        _run(
            "pg_basebackup", "-D", str(backup), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "-N",
        )  # fmt: skip
        replicas = []
        for number in range(1, standbys + 1):
            standby = Server(root / f"standby{number}", free_port())
            # one backup for every standby: a copy, owners kept, before any of them starts
            subprocess.run(["cp", "-a", str(backup), str(standby.data)], check=True)
            _configure(standby, root)
            replicas.append(standby)
        for standby in replicas:
            standby.start()
            started.append(standby)
        yield Replication(primary, replicas)
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _configure(server: Server, root: Path) -> None:
    """Append this server's own settings (port, socket folder) to its configuration."""
    settings = {**SETTINGS, "port": str(server.port), "unix_socket_directories": f"'{root}'"}
    with (server.data / "postgresql.conf").open("a") as configuration:
        configuration.writelines(f"{name} = {value}\n" for name, value in settings.items())


def _run(program: str, *arguments: str) -> None:
    """Run a PostgreSQL program, as the server account when the tests run as root."""
    command = [str(PG_BIN / program), *arguments]
    if os.geteuid() == 0:
        command = ["runuser", "-u", SERVER_USER, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{program} exited {done.returncode}:\n{done.stdout}{done.stderr}")
