"""The servers the tests use: PostgreSQL and Redis on this machine, when they answer.

Without them the tests that need them are skipped, except under CI (`CI=true`), where a server
that does not answer fails the run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.engine import make_url

from fluvius.testing.databases import throwaway_database

POSTGRES_URL = os.environ.get(
    "FLUVIUS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("FLUVIUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _answers(url: str, default_port: int) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection(
            (parsed.host or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def require(service: str, url: str, default_port: int) -> None:
    """Skip the test when `service` does not answer; under CI, fail it."""
    if _answers(url, default_port):
        return
    message = f"{service} at {url} does not answer"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI requires it")
    pytest.skip(message)


def require_postgres() -> None:
    require("PostgreSQL", POSTGRES_URL, 5432)


def require_redis() -> None:
    require("Redis", REDIS_URL, 6379)


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    require_postgres()
    async with throwaway_database(POSTGRES_URL) as url:
        yield url
