"""Throwaway PostgreSQL databases for tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url


@asynccontextmanager
async def throwaway_database(server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the server of `server_url`; dropped on exit."""
    server = make_url(server_url)
    name = f"fluvius_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(
        server.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
