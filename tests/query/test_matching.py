"""The filter as a Python predicate over rows holds exactly where its SQL does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import QueryError, fields_of
from fluvius.query.filters import parse_query
from fluvius.query.matching import row_predicate
from tests.query.cases import CONDITIONS, Predicate, negated
from tests.query.sample import all_ids, table

NESTED = {
    ".or": [
        {"status": "frozen", "active": False},
        {".and": [{"balance.gt": 100}, {".or": [{"owner.has": "ali"}, {"ratio.lt": -2}]}]},
    ],
    "born!eq": None,
}


async def agree(connection: AsyncConnection, query: dict[str, Any]) -> None:
    text = json.dumps(query, default=str)
    predicate = row_predicate(parse_query(text), table, fields_of(table), connection.dialect.name)
    rows = (await connection.execute(select(table))).mappings().all()
    assert {row["id"] for row in rows if predicate(row)} == set(
        await all_ids(connection, query=text)
    )


@pytest.mark.parametrize("case", CONDITIONS, ids=lambda case: f"{case[0]}={case[1]!r}")
async def test_each_condition_and_its_negation(
    connection: AsyncConnection, case: tuple[str, Any, Predicate]
) -> None:
    key, value, _ = case
    await agree(connection, {key: value})
    await agree(connection, {negated(key): value})


async def test_nested_groups(connection: AsyncConnection) -> None:
    await agree(connection, NESTED)


def test_a_bad_filter_is_refused_as_a_listing_refuses_it() -> None:
    with pytest.raises(QueryError) as refused:
        row_predicate({"nothing.gt": 1, "count.has": "x"}, table, fields_of(table), "sqlite")
    assert [entry["code"] for entry in refused.value.errors] == [
        "unknown-field",
        "unknown-operator",
    ]
