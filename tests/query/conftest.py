"""The seeded sample table: on each backend in turn, or on both at once to compare them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.query.sample import seeded
from tests.services import throwaway_postgres


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A read connection to the seeded table, on each backend."""
    database = await seeded(database_url)
    try:
        async with database.read.connect() as connection:
            yield connection
    finally:
        await database.dispose()


@pytest.fixture
async def backends(tmp_path: Path) -> AsyncIterator[tuple[AsyncConnection, AsyncConnection]]:
    """Read connections to the same seeded table on SQLite and on PostgreSQL."""
    async with AsyncExitStack() as stack:
        postgres_url = await stack.enter_async_context(throwaway_postgres())
        connections = []
        for url in (f"sqlite:///{tmp_path / 'fluvius.db'}", postgres_url):
            database = await seeded(url)
            stack.push_async_callback(database.dispose)
            connections.append(await stack.enter_async_context(database.read.connect()))
        yield connections[0], connections[1]
