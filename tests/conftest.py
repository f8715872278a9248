"""Fixtures shared by every test: a database URL on each backend, and a database holding the
tables a folder's conftest names (its `tables` fixture), with a command processor on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from fluvius.application import CommandProcessor
from fluvius.data import Database
from tests.services import throwaway_postgres
from tests.tables import create_all

_SLOW_FOLDERS = (Path(__file__).parent / "e2e", Path(__file__).parent / "bench")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fluvius.db'}"
        return
    async with throwaway_postgres() as url:
        yield url


@pytest.fixture
def tables() -> tuple[MetaData, ...]:
    """The tables `database` holds: none unless a folder's conftest names them."""
    return ()


@pytest.fixture
async def database(database_url: str, tables: tuple[MetaData, ...]) -> AsyncIterator[Database]:
    """The database at `database_url`, holding `tables`."""
    db = Database(database_url)
    await create_all(db, tables)
    yield db
    await db.dispose()


@pytest.fixture
def processor(database: Database) -> CommandProcessor:
    return CommandProcessor(database)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything that makes projects or runs benchmarks is `slow`: `./dev test --fast` skips it,
    and the tests on PostgreSQL."""
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in _SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)
