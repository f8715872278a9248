"""A bank service with a view, on each database backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fluvius.application import CommandProcessor
from fluvius.data import Database
from tests.views.service import create_tables


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await create_tables(db)
    yield db
    await db.dispose()


@pytest.fixture
def processor(database: Database) -> CommandProcessor:
    return CommandProcessor(database)
