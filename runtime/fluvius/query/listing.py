"""One page of a state table: filtered, sorted, and paginated by page number or by cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query.cursors import cursor_context, decode_cursor, encode_cursor
from fluvius.query.errors import refuse
from fluvius.query.fields import TENANT_COLUMN, fields_of
from fluvius.query.filters import compile_filter, parse_query
from fluvius.query.sorting import after, order_by, parse_sort


@dataclass(frozen=True)
class Listing:
    """The rows of one page (tenant_id left out) and its pagination.

    Page mode: {"limit", "page", "total", "pages", "next_cursor"}; cursor mode: {"limit",
    "next_cursor"}. `next_cursor` continues after the last row, in cursor mode; None at the end.
    """

    rows: list[dict[str, Any]]
    pagination: dict[str, Any]


async def list_rows(
    connection: AsyncConnection,
    table: Table,
    *,
    query: str | None = None,
    sort: str | None = None,
    limit: int = 20,
    page: int | None = None,
    cursor: str | None = None,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> Listing:
    """List `table` as a client asked: `query=` filter, `sort=` order, `limit` rows per page
    (the caller bounds it, 1 to 100), then `page` (1-based; the default) or `cursor` (empty for
    the first page), not both.
    `conditions` are ANDed in (tenant, owner scope). Bad input raises QueryError.
    """
    if page is not None and cursor is not None:
        raise refuse("invalid-page", "page", "give either page= or cursor=, not both")
    if page is not None and page < 1:
        raise refuse("invalid-page", "page", f"page= counts from 1, and {page} is less")
    dialect = connection.dialect.name
    fields = fields_of(table)
    parsed = parse_query(query)
    where = [compile_filter(parsed, table, fields, dialect), *conditions]
    keys = parse_sort(sort, fields, unique_key(table))
    context = cursor_context(table, parsed, keys)
    columns = [column for column in table.columns if column.name != TENANT_COLUMN]
    rows = select(*columns).where(*where).order_by(*order_by(table, keys, dialect))

    if cursor is not None:
        # An empty cursor starts cursor mode: the first page, without page mode's count.
        seek = [after(table, keys, decode_cursor(cursor, context, keys), dialect)] if cursor else []
        found, more = await _fetch(connection, rows.where(*seek), limit)
        next_cursor = encode_cursor(context, keys, found[-1]) if more else None
        return Listing(found, {"limit": limit, "next_cursor": next_cursor})

    page = page or 1
    total = (
        await connection.execute(select(func.count()).select_from(table).where(*where))
    ).scalar_one()
    offset = (page - 1) * limit
    # Past the last row there is nothing to fetch (and an offset PostgreSQL could not hold).
    found, more = (
        await _fetch(connection, rows.offset(offset), limit) if offset < total else ([], False)
    )
    return Listing(
        found,
        {
            "limit": limit,
            "page": page,
            "total": total,
            "pages": -(-total // limit),
            "next_cursor": encode_cursor(context, keys, found[-1]) if more else None,
        },
    )


def unique_key(table: Table) -> str:
    """The column no two rows of a tenant share: the primary key's, past `tenant_id`."""
    return next(c.name for c in table.primary_key.columns if c.name != TENANT_COLUMN)


async def _fetch(
    connection: AsyncConnection, statement: Select[Any], limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` rows of `statement`, and whether more follow."""
    result = await connection.execute(statement.limit(limit + 1))
    found = [dict(row) for row in result.mappings()]
    return found[:limit], len(found) > limit
