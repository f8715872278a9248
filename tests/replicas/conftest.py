"""Fixtures of the read replica tests: a primary with two streaming standbys for the session,
and the bank served on them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest

from fluvius.casbin.permission import READ, Permission
from fluvius.data import Database
from fluvius.service import Service
from fluvius.testing.databases import throwaway_database
from tests.replica import Replication, replicated_postgres, require_server_binaries
from tests.streams.service import bank_service, create_tables

TELLER = tuple(
    Permission("teller", "banking.account", action) for action in (READ, "open-account", "deposit")
)


@pytest.fixture(scope="session")
def replication() -> Iterator[Replication]:
    """A primary and two standbys of its own, for the whole session."""
    require_server_binaries()
    with replicated_postgres(standbys=2) as replication:
        yield replication


@pytest.fixture
async def bank_url(replication: Replication) -> AsyncIterator[str]:
    """A throwaway database on the primary holding the bank's tables, replayed by every
    standby."""
    async with throwaway_database(replication.primary.url()) as url:
        database = Database(url)
        try:
            await create_tables(database)
        finally:
            await database.dispose()
        await replication.caught_up()
        yield url


@pytest.fixture
def bank() -> Service:
    """The bank, whose tellers may open accounts, deposit and read."""
    service = bank_service()
    (banking,) = service.domains
    return replace(service, domains=(replace(banking, permissions=TELLER),))
