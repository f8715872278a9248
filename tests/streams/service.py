"""The hand-written bank domain of tests/runtime as a service with a public `money` stream."""

from __future__ import annotations

import uuid

from sqlalchemy import MetaData

from fluvius.data import Database, new_metadata
from fluvius.data.tables import (
    RuntimeTables,
    dead_letter_table,
    job_table,
    projection_table,
    view_change_table,
)
from fluvius.service import Domain, Service
from fluvius.streams import Stream
from tests.runtime.bank import Account, accounts, checkpoints, log, metadata
from tests.tables import create_all

MONEY = Stream("money", ("banking.account.money-deposited", "banking.account.money-withdrawn"))
_runtime = new_metadata()
TABLES = RuntimeTables(
    checkpoints,
    projection_table(_runtime),
    job_table(_runtime),
    dead_letter_table(_runtime),
    view_change_table(_runtime),
)
ALL_METADATA: tuple[MetaData, ...] = (metadata, _runtime)
"""The bank's tables and fluvius's own."""


def bank_service(name: str | None = None) -> Service:
    """The bank, named afresh for each test so that its subjects, keys and topics are its own."""
    return Service(
        name=name or f"bank{uuid.uuid4().hex[:8]}",
        metadata=metadata,
        tables=TABLES,
        domains=(Domain("banking", log, (Account,), tables={Account: accounts}),),
        streams=(MONEY,),
    )


async def create_tables(database: Database) -> None:
    """Create the bank's tables and fluvius's own."""
    await create_all(database, ALL_METADATA)
