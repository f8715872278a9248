"""The `query=` filter as a Python predicate over one row, for rows that are not in a table.

It holds exactly where the SQL of `compile_filter` would: a comparison with NULL never holds,
`field!op` is its negation (so it holds on NULL), `has` and `startswith` ignore the case of
ASCII letters only. The filter is checked by `compile_filter` first, so it refuses what a
listing refuses, with the same problems.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Table

from fluvius.query.fields import FieldKind
from fluvius.query.filters import COMPARISONS, FILTER_KEY, compile_filter, operand_of

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def row_predicate(
    query: Mapping[str, Any], table: Table, fields: Mapping[str, FieldKind], dialect: str
) -> Predicate:
    """The predicate of a parsed `query=` object; a QueryError as `compile_filter` raises."""
    compile_filter(query, table, fields, dialect)
    return _group(query, fields)


def _group(query: Mapping[str, Any], fields: Mapping[str, FieldKind]) -> Predicate:
    members = [_member(key, value, fields) for key, value in query.items()]
    return lambda row: all(member(row) for member in members)


def _member(key: str, value: Any, fields: Mapping[str, FieldKind]) -> Predicate:
    if key in (".and", ".or"):
        parts = [_group(item, fields) for item in value]
        if key == ".and":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    match = FILTER_KEY.fullmatch(key)
    assert match is not None  # the pattern matches every string
    name, sign = match["field"], match["sign"]
    operator = match["operator"] if sign else "eq"
    test = _test(operator, operand_of(fields[name], operator, value))
    if sign == "!":
        return lambda row: not test(row.get(name))
    return lambda row: test(row.get(name))


def _test(operator: str, operand: Any) -> Callable[[Any], bool]:
    if operand is None:  # eq / ne null
        return (lambda value: value is None) if operator == "eq" else (lambda v: v is not None)
    if operator == "in":
        return lambda value: value is not None and value in operand
    if operator == "between":
        low, high = operand
        return lambda value: value is not None and low <= value <= high
    if operator in ("has", "startswith"):
        pattern = str(operand).translate(_ASCII_LOWER)
        if operator == "has":
            return lambda value: value is not None and pattern in value.translate(_ASCII_LOWER)
        return lambda value: value is not None and value.translate(_ASCII_LOWER).startswith(pattern)
    compare = COMPARISONS[operator]
    return lambda value: value is not None and bool(compare(value, operand))
