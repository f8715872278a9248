"""Page numbers with totals, cursors that walk every row exactly once, and the two together."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import list_rows
from tests.query.cases import WALKS
from tests.query.sample import ROWS, ids, ordered, table, walk, where


async def test_pages_carry_totals(connection: AsyncConnection) -> None:
    pages = [await list_rows(connection, table, limit=30, page=n) for n in range(1, 9)]
    assert [len(page.rows) for page in pages] == [30] * 6 + [20, 0]
    for number, page in enumerate(pages, start=1):
        assert page.pagination["limit"] == 30
        assert page.pagination["page"] == number
        assert page.pagination["total"] == len(ROWS)
        assert page.pagination["pages"] == 7
    assert [row for page in pages for row in ids(page.rows)] == sorted(row["id"] for row in ROWS)
    assert [page.pagination["next_cursor"] is None for page in pages] == [False] * 6 + [True] * 2


async def test_the_first_page_is_the_default(connection: AsyncConnection) -> None:
    default = await list_rows(connection, table, limit=10)
    assert default == await list_rows(connection, table, limit=10, page=1)
    assert default.pagination["page"] == 1


async def test_totals_count_the_filtered_rows(connection: AsyncConnection) -> None:
    listing = await list_rows(connection, table, query='{"status": "open"}', limit=7, page=2)
    expected = where(lambda row: row["status"] == "open")
    assert listing.pagination["total"] == len(expected)
    assert listing.pagination["pages"] == -(-len(expected) // 7)


async def test_nothing_matching_is_zero_pages(connection: AsyncConnection) -> None:
    listing = await list_rows(connection, table, query='{"owner": "nobody"}')
    assert listing.rows == []
    assert listing.pagination == {
        "limit": 20,
        "page": 1,
        "total": 0,
        "pages": 0,
        "next_cursor": None,
    }


async def test_a_page_far_past_the_end_is_empty(connection: AsyncConnection) -> None:
    listing = await list_rows(connection, table, limit=100, page=10**20)
    assert listing.rows == []
    assert listing.pagination["total"] == len(ROWS)


@pytest.mark.parametrize("sort", [None, "balance.desc", "owner.desc,count"])
async def test_a_page_cursor_continues_with_the_next_page(
    connection: AsyncConnection, sort: str | None
) -> None:
    first = await list_rows(connection, table, sort=sort, limit=25, page=1)
    second = await list_rows(connection, table, sort=sort, limit=25, page=2)
    after_first = await list_rows(
        connection, table, sort=sort, limit=25, cursor=first.pagination["next_cursor"]
    )
    assert after_first.rows == second.rows
    assert set(after_first.pagination) == {"limit", "next_cursor"}


@pytest.mark.parametrize("sort", [None, "balance.desc", "owner.desc,count"])
async def test_an_empty_cursor_is_the_first_page_without_a_count(
    connection: AsyncConnection, sort: str | None
) -> None:
    query = '{"status": "open"}'
    started = await list_rows(connection, table, query=query, sort=sort, limit=25, cursor="")
    first = await list_rows(connection, table, query=query, sort=sort, limit=25, page=1)
    assert started.rows == first.rows
    assert started.pagination == {"limit": 25, "next_cursor": first.pagination["next_cursor"]}
    after = await list_rows(
        connection,
        table,
        query=query,
        sort=sort,
        limit=25,
        cursor=started.pagination["next_cursor"],
    )
    second = await list_rows(connection, table, query=query, sort=sort, limit=25, page=2)
    assert after.rows == second.rows


@pytest.mark.parametrize("limit", [1, 7, 100])
@pytest.mark.parametrize(("query", "sort"), WALKS)
async def test_walking_every_cursor_gives_every_row_once_in_order(
    connection: AsyncConnection, query: dict[str, Any], sort: str | None, limit: int
) -> None:
    text = json.dumps(query)
    scan = [  # all 200 rows fit in two pages of 100
        row
        for page in (1, 2)
        for row in (
            await list_rows(connection, table, query=text, sort=sort, limit=100, page=page)
        ).rows
    ]
    found = set(ids(scan))
    assert len(found) == len(scan)
    assert ids(scan) == ordered([row for row in ROWS if row["id"] in found], sort)
    pages = await walk(connection, limit=limit, query=text, sort=sort)
    assert [row for page in pages for row in page.rows] == scan
    assert [len(page.rows) for page in pages[:-1]] == [limit] * (len(pages) - 1)
