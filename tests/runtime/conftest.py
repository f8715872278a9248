"""A database with the bank domain's tables, on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database
from tests.runtime.bank import metadata


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    async with db.write.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
def processor(database: Database) -> CommandProcessor:
    return CommandProcessor(database)
