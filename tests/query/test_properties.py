"""Whatever a client sends, the answer is rows or a QueryError, the same on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.query import QueryError, fields_of, list_rows
from tests.query.sample import ROWS, comparable, table

FIELDS = fields_of(table)
OPERATORS = sorted({op for field in FIELDS.values() for op in field.operators})
SORTABLE = [name for name, field in FIELDS.items() if field.sortable]
CODES = {
    "invalid-query",
    "unknown-field",
    "unknown-operator",
    "invalid-value",
    "query-too-deep",
    "invalid-sort",
    "invalid-cursor",
    "invalid-page",
}


def _as_json(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | str) else str(value)


def _stored(name: str) -> st.SearchStrategy[Any]:
    """The values of a field in the seeded rows, as JSON, so conditions often match."""
    return st.sampled_from([_as_json(row[name]) for row in ROWS if row[name] is not None])


def _operand(name: str, operator: str) -> st.SearchStrategy[Any]:
    one = _stored(name)
    if operator == "in":
        return st.lists(one, min_size=1, max_size=4)
    if operator == "between":
        return st.lists(one, min_size=2, max_size=2)
    if operator in ("has", "startswith"):
        return one.flatmap(lambda text: st.integers(0, len(text)).map(lambda n: text[n : n + 3]))
    return st.one_of(one, st.none()) if operator in ("eq", "ne") else one


def _condition(name: str) -> st.SearchStrategy[tuple[str, str, Any]]:
    """A well-formed condition on the field `name`: (field, operator, value)."""
    return st.sampled_from(FIELDS[name].operators).flatmap(
        lambda operator: st.tuples(st.just(name), st.just(operator), _operand(name, operator))
    )


# Anything JSON can carry, under any key the grammar might be given.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
wild = st.tuples(
    st.builds(
        lambda name, sign, op: f"{name}{sign}{op}",
        st.sampled_from([*FIELDS, "nope", "tenant_id"]),
        st.sampled_from(["", ".", "!"]),
        st.sampled_from([*OPERATORS, "gtx", ""]),
    ),
    st.one_of(scalars, st.lists(scalars, max_size=4)),
)
well_formed = st.sampled_from([name for name, field in FIELDS.items() if field.operators]).flatmap(
    _condition
)
formed = st.builds(
    lambda condition, sign: (f"{condition[0]}{sign}{condition[1]}", condition[2]),
    well_formed,
    st.sampled_from(".!"),
)
pairs = st.integers(0, 9).flatmap(lambda n: wild if n == 0 else formed)  # mostly well-formed
conditions = st.lists(pairs, max_size=3).map(dict)
queries = st.recursive(
    conditions,
    lambda inner: st.builds(
        lambda base, groups: {**base, **groups},
        conditions,
        st.dictionaries(
            st.sampled_from([".and", ".or"]), st.lists(inner, min_size=1, max_size=3), max_size=2
        ),
    ),
    max_leaves=10,
)
sorts = st.lists(
    st.builds(
        lambda name, direction: name + direction,
        st.sampled_from(SORTABLE),
        st.sampled_from(["", ".asc", ".desc"]),
    ),
    max_size=3,
    unique_by=lambda item: item.partition(".")[0],
).map(",".join)


async def outcome(connection: AsyncConnection, **options: Any) -> Any:
    """The listing and the page its cursor leads to, comparable; or the refusal's code, errors."""
    try:
        listing = await list_rows(connection, table, **options)
        cursor = listing.pagination["next_cursor"]
        following = None
        if cursor is not None:
            options = {**options, "page": None, "cursor": cursor}
            following = comparable(await list_rows(connection, table, **options))
    except QueryError as error:
        return error.code, error.errors
    return comparable(listing), following


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.postgres
@given(query=queries, sort=sorts, limit=st.integers(1, 100), page=st.integers(1, 5))
async def test_built_queries_list_alike_or_are_refused_alike(
    backends: tuple[AsyncConnection, AsyncConnection],
    query: dict[str, Any],
    sort: str,
    limit: int,
    page: int,
) -> None:
    options = {"query": json.dumps(query), "sort": sort, "limit": limit, "page": page}
    sqlite, postgres = [await outcome(connection, **options) for connection in backends]
    assert sqlite == postgres


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(condition=well_formed)
async def test_a_negated_condition_holds_exactly_where_the_condition_does_not(
    connection: AsyncConnection, condition: tuple[str, str, Any]
) -> None:
    name, operator, value = condition
    holds, fails = [
        await outcome(connection, query=json.dumps({f"{name}{sign}{operator}": value}), limit=1)
        for sign in ".!"
    ]
    if isinstance(holds[0], str):  # refused (a value that does not fit): refused either way
        assert holds[0] == fails[0] == "invalid-value"
        return
    assert holds[0][1]["total"] + fails[0][1]["total"] == len(ROWS)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.none() | st.text(),
    sort=st.none() | st.text(),
    cursor=st.none() | st.text(),
    page=st.none() | st.integers(),
)
async def test_garbage_is_only_ever_refused_with_a_query_error(
    connection: AsyncConnection,
    query: str | None,
    sort: str | None,
    cursor: str | None,
    page: int | None,
) -> None:
    code: str | None = None
    try:
        await list_rows(connection, table, query=query, sort=sort, cursor=cursor, page=page)
    except QueryError as error:
        code = error.code
    assert code in CODES | {None}
