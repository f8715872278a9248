"""pytest fixtures for the tests of a generated service (`-p fluvius.testing.plugin`).

The service's own `tests/conftest.py` provides the `service` fixture; these build on it:
`database` (a fresh database with the service's tables), `services` (what handlers reach as
`self.services`: the service's own unless the conftest gives fakes), `processor`, `scenario`,
and `api` (the service's HTTP app in-process, see fluvius.testing.api). `api` serves the app
that the `create_app` fixture builds: the runtime's app of the service, unless the project's
conftest provides its own `create_app`, so that the routes and middleware it adds are tested
too.

Tests run on a SQLite file by default, its tables made from the service's code. Set
FLUVIUS_TEST_DATABASE_URL to a PostgreSQL server to run them there: the project's migrations
build the schema (`alembic upgrade head`, once per session, into a database of that server),
and each test gets a copy of it, dropped afterwards. So tests on PostgreSQL also prove that the
revisions build what the code expects.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from fluvius.application.processor import CommandProcessor
from fluvius.data.driver import Database
from fluvius.fastapi.app import build_app
from fluvius.service import Service, provided
from fluvius.settings import Settings
from fluvius.testing.api import Api, AppFactory, serving, test_settings
from fluvius.testing.databases import create_database, drop_database, throwaway_database
from fluvius.testing.scenario import Scenario

DATABASE_URL_VARIABLE = "FLUVIUS_TEST_DATABASE_URL"
MIGRATIONS_CONFIG = "alembic.ini"
T = TypeVar("T")


@pytest.fixture(scope="session")
def migrated_database(pytestconfig: pytest.Config) -> Iterator[str | None]:
    """On PostgreSQL, the name of a database built by the project's migrations (the revisions
    of the `alembic.ini` beside pyproject.toml), which each test's database copies; dropped at
    the end of the session. None on SQLite."""
    server = os.environ.get(DATABASE_URL_VARIABLE)
    if server is None:
        yield None
        return
    migrations = pytestconfig.rootpath / MIGRATIONS_CONFIG
    if not migrations.is_file():
        pytest.fail(f"no {migrations}: tests on PostgreSQL run the project's migrations")
    url = _run(create_database(server))
    try:
        _upgrade_to_head(migrations, url)
        yield make_url(url).database
    finally:
        _run(drop_database(server, url))


@pytest.fixture
async def database(
    service: Service, tmp_path: Path, migrated_database: str | None
) -> AsyncIterator[Database]:
    """A new database holding the service's tables, disposed of after the test."""
    async with _database_url(tmp_path, migrated_database) as url:
        db = Database(url)
        try:
            if migrated_database is None:
                async with db.write.begin() as connection:
                    await connection.run_sync(service.metadata.create_all)
            yield db
        finally:
            await db.dispose()


@pytest.fixture
async def services(service: Service, database: Database) -> AsyncIterator[Any]:
    """What handlers and workers reach as `self.services` and `ctx.services` in the tests: the
    service's own, built from the test settings. A project's conftest overrides this fixture
    to give fakes instead."""
    async with service.build_services(test_settings(service, _url(database))) as built:
        yield built


@pytest.fixture
def processor(database: Database, services: Any) -> CommandProcessor:
    """The command processor on the test database, with the tests' services."""
    return CommandProcessor(database, services=services)


@pytest.fixture
def scenario(database: Database, services: Any) -> Scenario:
    """Given / when / then on the test database, with the tests' services."""
    return Scenario(database, services=services)


@pytest.fixture
def create_app(service: Service) -> AppFactory:
    """How `api` builds the app from its test settings: by default, the runtime's app."""

    def runtime_app(settings: Settings) -> FastAPI:
        return build_app(service, settings)

    return runtime_app


@pytest.fixture
async def api(
    service: Service, database: Database, create_app: AppFactory, services: Any
) -> AsyncIterator[Api]:
    """The service's HTTP app on the test database, with the tests' services, and clients of
    it."""
    settings = test_settings(service, _url(database))
    async with serving(service, settings, create_app, provided(services)) as running:
        yield running


def _url(database: Database) -> str:
    return database.url.render_as_string(hide_password=False)


@asynccontextmanager
async def _database_url(tmp_path: Path, migrated: str | None) -> AsyncIterator[str]:
    if migrated is None:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    async with throwaway_database(os.environ[DATABASE_URL_VARIABLE], template=migrated) as url:
        yield url


def _upgrade_to_head(migrations: Path, url: str) -> None:
    """`alembic upgrade head` on the database at `url`."""
    from alembic import command  # alembic loads only for tests on PostgreSQL
    from alembic.config import Config

    config = Config(str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on a loop of its own (session fixtures run outside the tests' loops)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(work)
    finally:
        loop.close()
