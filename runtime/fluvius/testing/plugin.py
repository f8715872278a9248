"""pytest fixtures for the tests of a generated service (`-p fluvius.testing.plugin`).

The service's own `tests/conftest.py` provides the `service` fixture; these build on it:
`database` (a fresh database with the service's tables), `processor`, `scenario`, and `api`
(the service's HTTP app in-process, see fluvius.testing.api).
Tests run on a SQLite file by default; set FLUVIUS_TEST_DATABASE_URL to run them on PostgreSQL
(each test gets a database of its own, created and dropped on that server).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from fluvius.data.driver import Database
from fluvius.domain.processor import CommandProcessor
from fluvius.service import Service
from fluvius.testing.api import Api, serving, test_settings
from fluvius.testing.databases import throwaway_database
from fluvius.testing.scenario import Scenario

DATABASE_URL_VARIABLE = "FLUVIUS_TEST_DATABASE_URL"


@pytest.fixture
async def database(service: Service, tmp_path: Path) -> AsyncIterator[Database]:
    """A new database holding the service's tables, disposed of after the test."""
    async with _database_url(tmp_path) as url:
        db = Database(url)
        try:
            async with db.write.begin() as connection:
                await connection.run_sync(service.metadata.create_all)
            yield db
        finally:
            await db.dispose()


@pytest.fixture
def processor(database: Database) -> CommandProcessor:
    """The command processor on the test database."""
    return CommandProcessor(database)


@pytest.fixture
def scenario(database: Database) -> Scenario:
    """Given / when / then on the test database."""
    return Scenario(database)


@pytest.fixture
async def api(service: Service, database: Database) -> AsyncIterator[Api]:
    """The service's HTTP app on the test database, and clients of it."""
    url = database.url.render_as_string(hide_password=False)
    async with serving(service, test_settings(service, url)) as running:
        yield running


@asynccontextmanager
async def _database_url(tmp_path: Path) -> AsyncIterator[str]:
    server = os.environ.get(DATABASE_URL_VARIABLE)
    if server is None:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    async with throwaway_database(server) as url:
        yield url
