"""The same data listed on SQLite and on PostgreSQL gives the same rows, order and pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import list_rows
from tests.query.cases import CONDITIONS, WALKS, negated
from tests.query.sample import comparable, table, walk

pytestmark = pytest.mark.postgres


async def test_every_operator_lists_alike(
    backends: tuple[AsyncConnection, AsyncConnection],
) -> None:
    for key, value, _ in CONDITIONS:
        for condition in (key, negated(key)):
            query = json.dumps({condition: value}, default=str)
            sqlite, postgres = [
                comparable(await list_rows(connection, table, query=query, limit=100))
                for connection in backends
            ]
            assert sqlite == postgres, condition


@pytest.mark.parametrize(("query", "sort"), WALKS)
async def test_pages_and_cursor_walks_list_alike(
    backends: tuple[AsyncConnection, AsyncConnection], query: dict[str, Any], sort: str | None
) -> None:
    text = json.dumps(query)
    for page in (1, 2, 5):
        sqlite, postgres = [
            comparable(await list_rows(c, table, query=text, sort=sort, limit=17, page=page))
            for c in backends
        ]
        assert sqlite == postgres
    sqlite_pages, postgres_pages = [
        [comparable(page) for page in await walk(c, limit=13, query=text, sort=sort)]
        for c in backends
    ]
    assert sqlite_pages == postgres_pages
