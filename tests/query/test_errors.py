"""Each refusal: its stable code, the field at fault, and a message saying what is allowed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import QueryError, fields_of, list_rows
from fluvius.query.cursors import cursor_context, encode_cursor
from fluvius.query.sorting import parse_sort
from tests.query.sample import table

FIELDS = list(fields_of(table))
SORTABLE = [name for name in FIELDS if name != "data"]
NUMBER_OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "between"]


async def refused(connection: AsyncConnection, **options: Any) -> QueryError:
    with pytest.raises(QueryError) as caught:
        await list_rows(connection, table, **options)
    error = caught.value
    assert error.errors
    assert all(entry["message"] and entry["field"] for entry in error.errors)
    assert str(error) == error.message
    return error


async def refused_query(connection: AsyncConnection, query: Any) -> QueryError:
    text = query if isinstance(query, str) else json.dumps(query)
    return await refused(connection, query=text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not valid JSON"),
        ('{"owner": "a",}', "not valid JSON"),
        ('{"balance.gt": NaN}', "NaN is not a JSON number"),
        ("[1, 2]", "must be a JSON object"),
        ('"owner"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"owner": "a", "owner": "b"}', "repeats the key 'owner'"),
        ('{".and": {"owner": "a"}}', "'.and' takes a non-empty list of objects"),
        ('{".or": []}', "'.or' takes a non-empty list of objects"),
        ('{".or": [{"owner": "a"}, "b"]}', "'.or' takes a non-empty list of objects"),
        ('{".not": [{"owner": "a"}]}', "unknown group '.not'"),
    ],
)
async def test_invalid_query(connection: AsyncConnection, text: str, says: str) -> None:
    error = await refused_query(connection, text)
    assert error.code == "invalid-query"
    assert says in error.message


async def test_unknown_group_lists_the_groups(connection: AsyncConnection) -> None:
    error = await refused_query(connection, {".nor": [{"owner": "a"}]})
    assert error.errors[0]["allowed"] == [".and", ".or"]
    assert error.errors[0]["did_you_mean"] == ".or"


async def test_unknown_field_suggests_and_lists_the_fields(connection: AsyncConnection) -> None:
    error = await refused_query(connection, {"balanse.gt": 1})
    assert error.code == "unknown-field"
    [entry] = error.errors
    assert entry["field"] == "balanse.gt"
    assert entry["did_you_mean"] == "balance"
    assert entry["allowed"] == FIELDS
    assert "unknown field 'balanse'; did you mean 'balance'?" in error.message
    assert "Allowed: id, version, created_at" in error.message


async def test_an_empty_key_is_an_unknown_field(connection: AsyncConnection) -> None:
    error = await refused_query(connection, {"": 1, "!eq": 2})
    assert [entry["code"] for entry in error.errors] == ["unknown-field"] * 2
    assert [entry["field"] for entry in error.errors] == ["query", "!eq"]


async def test_echoed_text_is_valid_utf8(connection: AsyncConnection) -> None:
    error = await refused_query(connection, '{"\\ud800.gt": 1, "owner.\\udfff": 2}')
    report = json.dumps({"detail": error.message, "errors": error.errors}, ensure_ascii=False)
    assert report.encode("utf-8")
    assert error.errors[0]["field"] == "?.gt"


async def test_tenant_id_is_not_a_field(connection: AsyncConnection) -> None:
    error = await refused_query(connection, {"tenant_id": "t2"})
    assert error.code == "unknown-field"
    assert "tenant_id" not in error.errors[0]["allowed"]


@pytest.mark.parametrize(
    ("key", "value", "allowed", "suggestion"),
    [
        ("balance.gtx", 1, NUMBER_OPERATORS, "gt"),
        ("born.betwen", ["2000-01-01", "2001-01-01"], NUMBER_OPERATORS, "between"),
        ("owner.gt", "a", ["eq", "ne", "in", "has", "startswith"], None),
        ("owner.starts", "a", ["eq", "ne", "in", "has", "startswith"], "startswith"),
        ("status.has", "o", ["eq", "ne", "in"], None),
        ("active.in", [True], ["eq", "ne"], None),
        ("ref.gt", "0190f3a4-5b6c-7d8e-9f00-112233445566", ["eq", "ne", "in"], None),
        ("balance!", 1, NUMBER_OPERATORS, None),
        ("balance.gt.x", 1, NUMBER_OPERATORS, "gt"),
    ],
)
async def test_unknown_operator_lists_the_operators_of_the_kind(
    connection: AsyncConnection, key: str, value: Any, allowed: list[str], suggestion: str | None
) -> None:
    error = await refused_query(connection, {key: value})
    assert error.code == "unknown-operator"
    [entry] = error.errors
    assert entry["field"] == key
    assert entry["allowed"] == allowed
    assert entry.get("did_you_mean") == suggestion
    assert f"Allowed: {', '.join(allowed)}." in error.message


@pytest.mark.parametrize("key", ["data", "data.eq", "data!ne", "data.has"])
async def test_json_fields_cannot_be_filtered(connection: AsyncConnection, key: str) -> None:
    error = await refused_query(connection, {key: None})
    assert error.code == "unknown-operator"
    assert error.errors[0]["allowed"] == []
    assert "JSON fields cannot be filtered" in error.message


INVALID_VALUES = [
    ("balance.gt", "abc", "a number"),
    ("balance.gt", True, "a number"),
    ("balance.gt", None, "a number"),
    ("balance.gt", "NaN", "a number"),
    ("balance.gt", "Infinity", "a number"),
    ("balance.gt", "1e400", "below 1e100"),
    ("balance.gt", "1.", "a number"),
    ("balance.gt", "+1", "a number"),
    ("count.gt", "10", "a whole number (a JSON integer)"),
    ("ratio.gt", "1.5", "a finite number (a JSON number)"),
    ("seen_at.gt", "2024-01-01 00:00:00Z", "with a timezone"),
    ("ref", "0" * 32, "a UUID"),
    ("balance.gt", " 1", "a number"),
    ("balance.gt", "1_000", "a number"),
    ("balance.gt", "١٢", "a number"),
    ("balance.gt", "1e99999999999999999999999", "a number"),
    ("balance.gt", {"value": 1}, "a number"),
    ("count.gt", 1.5, "a whole number"),
    ("count.eq", 2**63, "from -9223372036854775808 to 9223372036854775807"),
    ("version.gt", 2**31, "from -2147483648 to 2147483647"),
    ("count.eq", "-9223372036854775809", "a whole number"),
    ("version.in", [1, "two"], "a list of 1 to 100 values, each a whole number"),
    ("ratio.gt", "1e400", "a finite number"),
    ("born.gt", "2024-13-01", "a date as YYYY-MM-DD"),
    ("born.gt", "20240101", "a date as YYYY-MM-DD"),
    ("born.gt", "2024-W01-1", "a date as YYYY-MM-DD"),
    ("born.gt", 20240101, "a date as YYYY-MM-DD"),
    ("born.gt", "2024-01-01T00:00:00Z", "a date as YYYY-MM-DD"),
    ("seen_at.gt", "2024-01-01T00:00:00", "with a timezone"),
    ("seen_at.gt", "yesterday", "with a timezone"),
    ("seen_at.gt", "0001-01-01T00:00:00+01:00", "with a timezone"),
    ("status", "opened", "one of open, frozen, closed"),
    ("status", "OPEN", "one of open, frozen, closed"),
    ("active", "true", "true or false"),
    ("active", 1, "true or false"),
    ("ref", "nope", "a UUID"),
    ("ref", 5, "a UUID"),
    ("owner", 5, "a string"),
    ("owner", "a\x00b", "a string"),
    ("owner", "\ud800", "a string"),
    ("owner", ["alice"], "a string, or null"),
    ("owner.in", [], "a list of 1 to 100 values"),
    ("owner.in", "alice", "a list of 1 to 100 values"),
    ("owner.in", ["a"] * 101, "a list of 1 to 100 values"),
    ("owner.in", ["a", None], "a list of 1 to 100 values"),
    ("owner.has", None, "a string"),
    ("owner.startswith", ["a"], "a string"),
    ("balance.between", [1], "a list of two values [low, high]"),
    ("balance.between", [1, 2, 3], "a list of two values [low, high]"),
    ("balance.between", [1, None], "a list of two values [low, high]"),
    ("balance.between", 5, "a list of two values [low, high]"),
]


@pytest.mark.parametrize(("key", "value", "says"), INVALID_VALUES)
async def test_invalid_value_names_field_operator_and_kind(
    connection: AsyncConnection, key: str, value: Any, says: str
) -> None:
    error = await refused_query(connection, {key: value})
    assert error.code == "invalid-value"
    [entry] = error.errors
    assert entry["field"] == key
    assert says in entry["expected"]
    field, _, operator = key.partition(".")
    assert error.message.startswith(f"'{key}': the operator '{operator or 'eq'}' on '{field}'")
    assert entry["expected"] in error.message


async def test_every_problem_is_reported_at_once(connection: AsyncConnection) -> None:
    query = {"balanse": 1, ".or": [{"owner.gtx": "a"}, {"status": "nope"}], "active": True}
    error = await refused_query(connection, query)
    assert error.code == "unknown-field"
    assert [entry["code"] for entry in error.errors] == [
        "unknown-field",
        "unknown-operator",
        "invalid-value",
    ]
    assert error.message.startswith("3 problems: unknown field 'balanse'")


async def test_more_than_five_nested_groups_are_too_deep(connection: AsyncConnection) -> None:
    query: dict[str, Any] = {"status": "open"}
    for _ in range(6):
        query = {".or": [query]}
    error = await refused_query(connection, query)
    assert error.code == "query-too-deep"
    assert "more than 5 levels" in error.message


async def test_more_than_fifty_conditions_are_too_many(connection: AsyncConnection) -> None:
    fifty = {".and": [{"count.ne": n} for n in range(50)]}
    assert (await list_rows(connection, table, query=json.dumps(fifty))).rows
    error = await refused_query(connection, {**fifty, "status": "open"})
    assert error.code == "query-too-deep"
    assert "more than 50 conditions" in error.message


async def test_json_nested_beyond_reading_is_too_deep(connection: AsyncConnection) -> None:
    error = await refused_query(connection, '{"owner.in": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert error.code == "query-too-deep"


@pytest.mark.parametrize(
    ("sort", "says", "allowed"),
    [
        ("balanse.desc", "sort= field 'balanse' is unknown; did you mean 'balance'?", SORTABLE),
        ("tenant_id", "sort= field 'tenant_id' is unknown", SORTABLE),
        ("balance,,owner", "sort= field '' is unknown", SORTABLE),
        ("owner; DROP TABLE shop_item", "is unknown", SORTABLE),
        ("data.asc", "JSON fields cannot be sorted", SORTABLE),
        ("balance.down", "sort= direction 'down' is unknown", ["asc", "desc"]),
        ("balance.DESC", "did you mean 'desc'?", ["asc", "desc"]),
        ("balance.desc.asc", "sort= direction 'desc.asc' is unknown", ["asc", "desc"]),
    ],
)
async def test_invalid_sort(
    connection: AsyncConnection, sort: str, says: str, allowed: list[str]
) -> None:
    error = await refused(connection, sort=sort)
    assert error.code == "invalid-sort"
    assert says in error.message
    assert error.errors[0]["allowed"] == allowed


def test_a_field_sorted_twice_sorts_by_its_first_mention() -> None:
    """sort=`s pattern in OpenAPI cannot refuse a repeated field, so the service takes it."""
    keys = parse_sort("balance, owner.desc, balance.desc", fields_of(table))
    assert [str(key) for key in keys] == ["balance.asc", "owner.desc", "id.asc"]


@pytest.mark.parametrize("page", [0, -3])
async def test_pages_count_from_one(connection: AsyncConnection, page: int) -> None:
    error = await refused(connection, page=page)
    assert error.code == "invalid-page"
    assert "counts from 1" in error.message


async def test_page_and_cursor_together_are_refused(connection: AsyncConnection) -> None:
    first = await list_rows(connection, table, limit=5)
    error = await refused(connection, page=2, cursor=first.pagination["next_cursor"])
    assert error.code == "invalid-page"
    assert "either page= or cursor=" in error.message


async def test_garbage_cursors_are_refused(connection: AsyncConnection) -> None:
    for cursor in ("!!!!", "abc", "a" * 5, "é", "eyJ4IjogMX0", "A" * 64):
        error = await refused(connection, cursor=cursor)
        assert error.code == "invalid-cursor"
        assert "issued for another query= or sort=" in error.message


async def test_a_tampered_cursor_is_refused(connection: AsyncConnection) -> None:
    cursor = (await list_rows(connection, table, sort="balance.desc", limit=5)).pagination[
        "next_cursor"
    ]
    for at in range(len(cursor)):
        changed = cursor[:at] + ("B" if cursor[at] != "B" else "C") + cursor[at + 1 :]
        error = await refused(connection, sort="balance.desc", limit=5, cursor=changed)
        assert error.code == "invalid-cursor"


@pytest.mark.parametrize(
    "other",
    [
        {"query": '{"status": "frozen"}', "sort": "balance.desc"},
        {"query": '{"status": "open"}', "sort": "balance.asc"},
        {"query": '{"status": "open"}', "sort": "owner,balance.desc"},
        {"query": None, "sort": "balance.desc"},
    ],
)
async def test_a_cursor_of_another_query_or_sort_is_refused(
    connection: AsyncConnection, other: dict[str, Any]
) -> None:
    first = await list_rows(
        connection, table, query='{"status": "open"}', sort="balance.desc", limit=5
    )
    cursor = first.pagination["next_cursor"]
    error = await refused(connection, cursor=cursor, limit=5, **other)
    assert error.code == "invalid-cursor"


async def test_a_cursor_survives_a_respelt_query(connection: AsyncConnection) -> None:
    options: dict[str, Any] = {"sort": "balance.desc", "limit": 5}
    first = await list_rows(connection, table, query='{"status":"open","active":true}', **options)
    respelt = '{ "active": true,\n  "status": "open" }'
    cursor = first.pagination["next_cursor"]
    assert (await list_rows(connection, table, query=respelt, cursor=cursor, **options)).rows


async def test_a_hand_made_cursor_with_wrong_values_is_refused(
    connection: AsyncConnection,
) -> None:
    keys = parse_sort("balance.desc", fields_of(table))
    context = cursor_context(table, {}, keys)
    for row in (
        {"balance": "lots", "id": "0190f3a4-5b6c-7d8e-9f00-112233445566"},
        {"balance": "1", "id": None},
        {"balance": True, "id": "not-a-uuid"},
    ):
        cursor = encode_cursor(context, keys, row)
        error = await refused(connection, sort="balance.desc", cursor=cursor)
        assert error.code == "invalid-cursor"
    short = encode_cursor(context, keys[:1], {"balance": "1"})
    assert (await refused(connection, sort="balance.desc", cursor=short)).code == "invalid-cursor"
