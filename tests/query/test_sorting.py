"""Orders: each field both ways, several fields, NULLs last, and id as the final tiebreaker."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import fields_of, list_rows
from tests.query.sample import ROWS, all_ids, ordered, table

SORTABLE = [name for name, field in fields_of(table).items() if field.sortable]


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("name", SORTABLE)
async def test_each_field_sorts_both_ways_nulls_last(
    connection: AsyncConnection, name: str, direction: str
) -> None:
    sort = f"{name}.{direction}"
    assert await all_ids(connection, sort=sort) == ordered(ROWS, sort)


@pytest.mark.parametrize(
    "sort",
    [
        "status.asc,balance.desc",
        "active.desc,born,owner.desc",
        "ref, ratio.desc, seen_at",
        "owner,notes.desc",
        "count.desc,version",
    ],
)
async def test_several_fields_sort_in_turn(connection: AsyncConnection, sort: str) -> None:
    assert await all_ids(connection, sort=sort) == ordered(ROWS, sort)


async def test_a_bare_field_is_ascending(connection: AsyncConnection) -> None:
    assert await all_ids(connection, sort="owner") == await all_ids(connection, sort="owner.asc")


@pytest.mark.parametrize("sort", [None, "", " "])
async def test_the_default_order_is_by_id(connection: AsyncConnection, sort: str | None) -> None:
    assert await all_ids(connection, sort=sort) == sorted(row["id"] for row in ROWS)


async def test_strings_sort_bytewise(connection: AsyncConnection) -> None:
    """Upper case before lower case, non-ASCII last, whatever the database's locale."""
    listing = await list_rows(connection, table, query='{"owner.ne": null}', sort="owner")
    owners = [row["owner"] for row in listing.rows]
    assert owners == sorted(owners)
    assert owners[0][0].isupper()


async def test_an_explicit_id_order_is_kept(connection: AsyncConnection) -> None:
    assert await all_ids(connection, sort="id.desc") == sorted(
        (row["id"] for row in ROWS), reverse=True
    )
