"""Sorted pages read an index in order, and cursor pages seek in it to their position.

The plans are asked for with the planner steered off whole-table reads (PostgreSQL) so that
they show what the SQL allows, not what suits 200 rows: a cursor condition an index cannot start
from reads every row before the position, however deep the page.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import list_rows
from tests.query.sample import table

INDEXES = {
    "ix_shop_item_created_at": "created_at",
    "ix_shop_item_version_updated_at": "version, updated_at",
}
PRIMARY_KEY = {"postgresql": "pk_shop_item", "sqlite": "sqlite_autoindex_shop_item_1"}
# Sorts whose leading keys are NOT NULL, with the index each should read.
SORTS = [
    (None, None),
    ("id.desc", None),
    ("created_at", "ix_shop_item_created_at"),
    ("created_at.desc", "ix_shop_item_created_at"),
    ("version,updated_at", "ix_shop_item_version_updated_at"),
    ("version.desc,updated_at.desc", "ix_shop_item_version_updated_at"),
]


@pytest.fixture
async def indexed(connection: AsyncConnection) -> AsyncConnection:
    """The seeded connection, with indexes on created_at and on (version, updated_at)."""
    for name, columns in INDEXES.items():
        await connection.exec_driver_sql(f"CREATE INDEX {name} ON {table.name} ({columns})")
    if connection.dialect.name == "postgresql":
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await connection.exec_driver_sql(f"SET LOCAL {setting} = off")
    return connection


@pytest.mark.parametrize(("sort", "index"), SORTS)
async def test_a_first_page_reads_the_index_in_order(
    indexed: AsyncConnection, sort: str | None, index: str | None
) -> None:
    dialect = indexed.dialect.name
    plan = await _plan(indexed, sort=sort, page=1)
    assert _reads_in_order(plan, index or PRIMARY_KEY[dialect], dialect), plan


@pytest.mark.parametrize(("sort", "index"), SORTS)
async def test_a_cursor_page_seeks_in_the_index(
    indexed: AsyncConnection, sort: str | None, index: str | None
) -> None:
    dialect = indexed.dialect.name
    first = await list_rows(indexed, table, sort=sort, limit=50)
    plan = await _plan(indexed, sort=sort, cursor=first.pagination["next_cursor"])
    assert _reads_in_order(plan, index or PRIMARY_KEY[dialect], dialect), plan
    assert _seeks(plan, index or PRIMARY_KEY[dialect], dialect), plan


async def _plan(connection: AsyncConnection, **options: Any) -> list[str]:
    """The plan of the statement that fetches the rows of a listing with `options`."""
    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sync = connection.sync_connection
    assert sync is not None
    event.listen(sync, "before_cursor_execute", capture)
    try:
        await list_rows(connection, table, limit=10, **options)
    finally:
        event.remove(sync, "before_cursor_execute", capture)
    statement, parameters = statements[-1]  # the rows come after the count, in page mode
    explain = "EXPLAIN" if connection.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    result = await connection.exec_driver_sql(f"{explain} {statement}", parameters)
    return [str(row[-1]) for row in result]


def _reads_in_order(plan: list[str], index: str, dialect: str) -> bool:
    """Whether `plan` reads `index` and sorts no more than ties of its columns."""
    if dialect == "postgresql":
        scans = any("Index Scan" in line and f"using {index} on" in line for line in plan)
        return scans and not any(line.strip().startswith("->  Sort") for line in plan)
    uses = any(f"USING INDEX {index}" in line for line in plan)
    return uses and "USE TEMP B-TREE FOR ORDER BY" not in plan


def _seeks(plan: list[str], index: str, dialect: str) -> bool:
    """Whether `plan` starts its read of `index` at a position (not at the first entry)."""
    if dialect == "postgresql":
        return any("Index Cond" in line for line in plan)
    return any(line.startswith(f"SEARCH {table.name} USING INDEX {index} (") for line in plan)
