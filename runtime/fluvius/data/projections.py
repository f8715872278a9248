"""Which projection built each state table, so a changed projection is noticed.

A projection's fingerprint covers the state's schema and the source of every event handler
that builds it, user overrides included. The database keeps the fingerprint of the projection
that last built each table; when the code's differs, the table must be replayed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from fluvius.data.mapping import storage_of

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.domain.aggregate import Aggregate


def fingerprint(aggregate_type: type[Aggregate[Any]]) -> str:
    """A hash of what the aggregate's state table holds and how its events build it."""
    parts: list[Any] = [aggregate_type.state_type.model_json_schema()]
    for name, projector in sorted(aggregate_type.events.items()):
        method = getattr(aggregate_type, projector.method)
        parts.append([name, projector.event.schema_version, inspect.getsource(method).strip()])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


async def record(
    connection: AsyncConnection, table: Table, aggregate_type: type[Aggregate[Any]]
) -> None:
    """Note that the aggregate's state table now holds what its current projection builds."""
    await record_fingerprint(
        connection, table, aggregate_type.qualified_name(), fingerprint(aggregate_type)
    )


async def recorded_fingerprint(connection: AsyncConnection, table: Table, name: str) -> str | None:
    """The fingerprint recorded for the projection `name`, or None."""
    query = select(table.c.fingerprint).where(table.c.aggregate == name)
    return (await connection.execute(query)).scalar_one_or_none()


async def record_fingerprint(
    connection: AsyncConnection, table: Table, name: str, value: str
) -> None:
    """Note that the rows of the projection `name` are what the definition `value` builds."""
    values = {"aggregate": name, "fingerprint": value, "recorded_at": dt.datetime.now(dt.UTC)}
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.aggregate],
        set_={
            "fingerprint": statement.excluded.fingerprint,
            "recorded_at": statement.excluded.recorded_at,
        },
    )
    await connection.execute(statement)


async def stale(
    connection: AsyncConnection, table: Table, aggregates: list[type[Aggregate[Any]]]
) -> list[str]:
    """The aggregates whose state table a different projection built: they need a replay.

    A state table with no record yet is recorded as built by the current projection when it is
    empty, and reported as stale when it holds rows.
    """
    recorded = dict(
        (await connection.execute(select(table.c.aggregate, table.c.fingerprint))).all()
    )
    found = []
    for aggregate_type in aggregates:
        name = aggregate_type.qualified_name()
        if name not in recorded:
            rows = select(func.count()).select_from(storage_of(aggregate_type).table)
            if (await connection.execute(rows)).scalar_one() == 0:
                await record(connection, table, aggregate_type)
                continue
        if recorded.get(name) != fingerprint(aggregate_type):
            found.append(name)
    return found
