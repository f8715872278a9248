"""The PostgreSQL server the benchmarks use, and scratch databases on it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fluvius.testing.databases import throwaway_database

SERVER_URL = os.environ.get(
    "FLUVIUS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """The URL of a new database on the benchmark server, dropped afterwards."""
    async with throwaway_database(SERVER_URL) as url:
        yield url


def asyncpg_dsn(url: str) -> str:
    """`url` as asyncpg takes it (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
