"""A live bank on each backend, served for real."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fluvius.data import Database
from fluvius.service import Service
from fluvius.settings import Settings
from fluvius.testing.api import test_settings
from tests.live.server import Served, serve
from tests.live.service import live_bank
from tests.streams.service import create_tables


@pytest.fixture
async def service() -> Service:
    return live_bank()


@pytest.fixture
async def settings(service: Service, database_url: str) -> Settings:
    database = Database(database_url)
    await create_tables(database)
    await database.dispose()
    return test_settings(service, database_url)


@pytest.fixture
async def served(service: Service, settings: Settings) -> AsyncIterator[Served]:
    async with serve(service, settings) as running:
        yield running
