"""Throwaway PostgreSQL databases for tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url


@asynccontextmanager
async def throwaway_database(server_url: str, *, template: str | None = None) -> AsyncIterator[str]:
    """The URL of a new database on the server of `server_url`, dropped on exit: empty, or a
    copy of the database named `template` (on that server, and with no one connected to it)."""
    url = await create_database(server_url, template=template)
    try:
        yield url
    finally:
        await drop_database(server_url, url)


async def create_database(server_url: str, *, template: str | None = None) -> str:
    """The URL of a new database on the server of `server_url` (see throwaway_database)."""
    name = f"fluvius_test_{uuid.uuid4().hex[:16]}"
    copy = f' TEMPLATE "{template}"' if template is not None else ""
    await _as_admin(server_url, f'CREATE DATABASE "{name}"{copy}')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, url: str) -> None:
    """Drop the database at `url`, on the server of `server_url`, ending its connections."""
    await _as_admin(server_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


async def _as_admin(server_url: str, statement: str) -> None:
    server = make_url(server_url).set(drivername="postgresql")
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
