"""Reading the bank domain's tables back, to check what the runtime wrote."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import Table, func, select

from fluvius.data import Database
from tests.runtime.bank import Account, AccountState, accounts, log


async def count(database: Database, table: Table) -> int:
    async with database.read.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def versions(database: Database, aggregate_id: uuid.UUID) -> list[int]:
    events = log.events
    query = (
        select(events.c.version)
        .where(events.c.aggregate_id == aggregate_id)
        .order_by(events.c.version)
    )
    async with database.read.connect() as connection:
        return list((await connection.execute(query)).scalars())


async def stored_state(database: Database, aggregate_id: uuid.UUID) -> AccountState | None:
    query = select(accounts).where(accounts.c.id == aggregate_id)
    async with database.read.connect() as connection:
        row = (await connection.execute(query)).mappings().first()
    return AccountState.model_validate(row) if row is not None else None


async def folded_state(database: Database, aggregate_id: uuid.UUID) -> AccountState:
    """The state the event log gives for one account, folded here from its rows."""
    events = log.events
    query = select(events).where(events.c.aggregate_id == aggregate_id).order_by(events.c.version)
    async with database.read.connect() as connection:
        rows = (await connection.execute(query)).all()
    loaded = [Account.load_event(row.name, row.schema_version, row.data) for row in rows]
    state = Account.fold(aggregate_id, loaded)
    return state.evolve(created_at=rows[0].recorded_at, updated_at=rows[-1].recorded_at)


async def table_digest(database: Database, table: Table) -> str:
    """A hash of every row of `table`, independent of physical order."""
    async with database.read.connect() as connection:
        rows = (await connection.execute(select(table).order_by(table.c.id))).mappings().all()
    canonical = [{key: _canonical(value) for key, value in row.items()} for row in rows]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _canonical(value: Any) -> str:
    return str(value.normalize()) if hasattr(value, "normalize") else str(value)
