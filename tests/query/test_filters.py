"""Every operator of every kind, negation, nesting and NULL equality, against the seeded rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import fields_of, list_rows
from tests.query.cases import CONDITIONS, SOME_ID, Predicate, Row, negated
from tests.query.sample import ROWS, all_ids, table, where


def _id(case: tuple[str, Any, Predicate]) -> str:
    return f"{case[0]}={json.dumps(case[1], default=str, ensure_ascii=False)}"


async def matching(connection: AsyncConnection, query: dict[str, Any]) -> list[Any]:
    return await all_ids(connection, query=json.dumps(query, default=str))


@pytest.mark.parametrize("case", CONDITIONS, ids=_id)
async def test_operator(connection: AsyncConnection, case: tuple[str, Any, Predicate]) -> None:
    key, value, predicate = case
    found = await matching(connection, {key: value})
    assert len(found) == len(set(found))
    assert set(found) == where(predicate)


@pytest.mark.parametrize("case", CONDITIONS, ids=_id)
async def test_negation_is_the_complement(
    connection: AsyncConnection, case: tuple[str, Any, Predicate]
) -> None:
    key, value, predicate = case
    found = await matching(connection, {negated(key): value})
    assert set(found) == where(lambda row: not predicate(row))


def test_the_cases_cover_every_operator_of_every_kind() -> None:
    used = {(key.split(".")[0], key.partition(".")[2] or "eq") for key, _, _ in CONDITIONS}
    kinds = fields_of(table)
    covered = {(kinds[name].kind, operator) for name, operator in used}
    wanted = {(field.kind, op) for field in kinds.values() for op in field.operators}
    assert wanted <= covered


async def test_keys_of_one_object_are_anded(connection: AsyncConnection) -> None:
    found = await matching(connection, {"status": "open", "balance.gt": 0, "active": True})
    assert set(found) == where(
        lambda row: (
            row["status"] == "open"
            and row["balance"] is not None
            and row["balance"] > 0
            and row["active"] is True
        )
    )


async def test_or_and_nest(connection: AsyncConnection) -> None:
    query = {
        ".or": [
            {"status": "frozen", "active": False},
            {".and": [{"balance.gt": 100}, {".or": [{"owner.has": "ali"}, {"ratio.lt": -2}]}]},
        ],
        "born!eq": None,
    }

    def expected(row: Row) -> bool:
        frozen = row["status"] == "frozen" and row["active"] is False
        ali = row["owner"] is not None and "ali" in row["owner"].lower()
        low = row["ratio"] is not None and row["ratio"] < -2
        rich = row["balance"] is not None and row["balance"] > 100
        return row["born"] is not None and (frozen or (rich and (ali or low)))

    assert set(await matching(connection, query)) == where(expected)


async def test_five_nested_groups_are_allowed(connection: AsyncConnection) -> None:
    query: dict[str, Any] = {"status": "open"}
    for _ in range(5):
        query = {".and": [query]}
    assert set(await matching(connection, query)) == where(lambda row: row["status"] == "open")


async def test_empty_and_blank_queries_match_everything(connection: AsyncConnection) -> None:
    for query in (None, "", "  ", "{}"):
        assert len(await all_ids(connection, query=query)) == len(ROWS)


@pytest.mark.parametrize(
    "value",
    [
        "x'; DROP TABLE shop_item; --x",
        "' OR '1'='1",
        "%' OR 1=1 --",
        '"; DELETE FROM shop_item WHERE "1"="1',
        "\\'; SELECT 1; --",
    ],
)
async def test_sql_looking_values_match_nothing(connection: AsyncConnection, value: str) -> None:
    for query in (
        {"owner": value},
        {"owner.has": value},
        {"owner.startswith": value},
        {"notes.in": [value, value.upper()]},
    ):
        assert await matching(connection, query) == []
    total = await connection.execute(select(func.count()).select_from(table))
    assert total.scalar_one() == len(ROWS)


async def test_a_stored_sql_looking_value_matches_itself(connection: AsyncConnection) -> None:
    owner = "x'; DROP TABLE shop_item; --"
    found = await matching(connection, {"owner": owner})
    assert found
    assert set(found) == where(lambda row: row["owner"] == owner)


async def test_conditions_are_anded_and_tenant_id_is_hidden(connection: AsyncConnection) -> None:
    listing = await list_rows(
        connection,
        table,
        query='{"status": "open"}',
        conditions=[table.c.tenant_id == "t2"],
        limit=100,
    )
    expected = {row["id"] for row in ROWS if row["tenant_id"] == "t2" and row["status"] == "open"}
    assert {row["id"] for row in listing.rows} == expected
    assert listing.pagination["total"] == len(expected)
    assert all("tenant_id" not in row for row in listing.rows)


async def test_rows_hold_every_column_as_python_values(connection: AsyncConnection) -> None:
    listing = await list_rows(connection, table, query=json.dumps({"id": str(SOME_ID)}))
    [row] = listing.rows
    stored = dict(ROWS[17])
    del stored["tenant_id"]
    assert row == stored
