"""The `query=` filter: a JSON object of conditions, compiled to one SQL condition.

`{"field": v}` is equality, `{"field.op": v}` applies an operator, `{"field!op": v}` holds exactly
where `field.op` does not (rows whose field is NULL included). `.and` and `.or` take lists of such
objects; the keys of one object are ANDed. Every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from operator import eq, ge, gt, le, lt, ne
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, literal, not_, or_, true
from sqlalchemy.sql.elements import KeyedColumnElement

from fluvius.query.bytewise import bytewise
from fluvius.query.errors import QueryError, problem, refuse, unknown
from fluvius.query.fields import FieldKind, Kind
from fluvius.query.values import InvalidValue, expected, to_python

MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_IN_VALUES = 100
GROUPS = (".and", ".or")
LIKE_ESCAPE = "/"

_Comparison = Callable[[ColumnElement[Any], ColumnElement[Any]], ColumnElement[bool]]
COMPARISONS: Mapping[str, _Comparison] = {
    "eq": eq,
    "ne": ne,
    "gt": gt,
    "gte": ge,
    "lt": lt,
    "lte": le,
}
FILTER_KEY = re.compile(r"(?P<field>[^.!]*)(?:(?P<sign>[.!])(?P<operator>.*))?", re.DOTALL)


class DuplicateKey(ValueError):
    """A JSON text repeats a key in one object."""


def parse_query(text: str | None) -> dict[str, Any]:
    """The filter object in `text`; an empty one when `text` is absent or blank."""
    if text is None or not text.strip():
        return {}
    try:
        parsed = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=unique_keys,
        )
    except RecursionError:
        raise _too_deep("query= is nested too deeply to read") from None
    except DuplicateKey as exc:
        message = f"query= {exc}; join such conditions with .and"
        raise refuse("invalid-query", "query", message) from None
    except ValueError as exc:
        raise refuse("invalid-query", "query", f"query= is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise refuse("invalid-query", "query", 'query= must be a JSON object, like {"size.gt": 10}')
    return parsed


def compile_filter(
    query: Mapping[str, Any], table: Table, fields: Mapping[str, FieldKind], dialect: str
) -> ColumnElement[bool]:
    """The SQL condition of a parsed `query=` object; a QueryError lists every problem in it."""
    compiler = _Compiler(table, fields, dialect)
    condition = compiler.group(query, depth=0)
    if compiler.problems:
        raise QueryError(compiler.problems)
    return condition


class _Compiler:
    def __init__(self, table: Table, fields: Mapping[str, FieldKind], dialect: str) -> None:
        self.table = table
        self.fields = fields
        self.dialect = dialect
        self.problems: list[dict[str, Any]] = []
        self.conditions = 0

    def group(self, query: Mapping[str, Any], depth: int) -> ColumnElement[bool]:
        return and_(true(), *(self.member(key, value, depth) for key, value in query.items()))

    def member(self, key: str, value: Any, depth: int) -> ColumnElement[bool]:
        if key in GROUPS:
            return self.nested(key, value, depth)
        if key.startswith("."):
            message, details = unknown(f"query= has the unknown group '{key}'", key, GROUPS)
            raise refuse("invalid-query", key, message, **details)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise _too_deep(f"query= has more than {MAX_CONDITIONS} conditions")
        return self.condition(key, value)

    def nested(self, key: str, items: Any, depth: int) -> ColumnElement[bool]:
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise refuse("invalid-query", key, f"'{key}' takes a non-empty list of objects")
        if depth == MAX_DEPTH:
            raise _too_deep(f"query= nests .and/.or more than {MAX_DEPTH} levels deep")
        parts = [self.group(item, depth + 1) for item in items]
        return and_(*parts) if key == ".and" else or_(*parts)

    def condition(self, key: str, raw: Any) -> ColumnElement[bool]:
        match = FILTER_KEY.fullmatch(key)
        assert match is not None  # the pattern matches every string
        name, sign = match["field"], match["sign"]
        operator = match["operator"] if sign else "eq"
        key = key or "query"  # where problems point
        field = self.fields.get(name)
        if field is None:
            message, details = unknown(f"unknown field '{name}'", name, list(self.fields))
            return self.refused(problem("unknown-field", key, message, **details))
        if field.kind is Kind.JSON:
            message = f"'{name}' is a JSON field, and JSON fields cannot be filtered"
            return self.refused(problem("unknown-operator", key, message, allowed=[]))
        if operator not in field.operators:
            message, details = unknown(
                f"the {field.kind} field '{name}' has no operator '{operator}'",
                operator,
                field.operators,
            )
            return self.refused(problem("unknown-operator", key, message, **details))
        try:
            value = operand_of(field, operator, raw)
        except InvalidValue:
            wanted = _shape(field, operator)
            message = f"'{key}': the operator '{operator}' on '{name}' expects {wanted}"
            return self.refused(problem("invalid-value", key, message, expected=wanted))
        column = self.table.c[name]
        sql = _sql(column, operator, value, self.dialect)
        if sign != "!":
            return sql
        if field.nullable and value is not None:
            return or_(not_(sql), column.is_(None))
        return not_(sql)

    def refused(self, entry: dict[str, Any]) -> ColumnElement[bool]:
        self.problems.append(entry)
        return true()


def operand_of(field: FieldKind, operator: str, raw: Any) -> Any:
    if operator in ("eq", "ne") and raw is None:
        return None
    if operator == "in":
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_IN_VALUES:
            raise InvalidValue
        return [to_python(field, item) for item in raw]
    if operator == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise InvalidValue
        return [to_python(field, item) for item in raw]
    return to_python(field, raw)


def _shape(field: FieldKind, operator: str) -> str:
    one = expected(field)
    if operator == "in":
        return f"a list of 1 to {MAX_IN_VALUES} values, each {one}"
    if operator == "between":
        return f"a list of two values [low, high], each {one}"
    if operator in ("eq", "ne"):
        return f"{one}, or null"
    return one


def _sql(
    column: KeyedColumnElement[Any], operator: str, value: object, dialect: str
) -> ColumnElement[bool]:
    if isinstance(value, list):  # the operand of in and between
        return column.in_(value) if operator == "in" else column.between(*value)
    if value is None:
        return column.is_(None) if operator == "eq" else column.is_not(None)
    if operator in ("has", "startswith"):
        pattern = _escape_like(str(value)) + "%"
        return _like(column, "%" + pattern if operator == "has" else pattern, dialect)
    return COMPARISONS[operator](column, literal(value, column.type))


def _like(column: KeyedColumnElement[Any], pattern: str, dialect: str) -> ColumnElement[bool]:
    """LIKE, blind to the case of ASCII letters (only those: alike on both backends)."""
    text, like = bytewise(column, dialect), bytewise(literal(pattern), dialect)
    return func.lower(text).like(func.lower(like), escape=LIKE_ESCAPE)


def _escape_like(text: str) -> str:
    return re.sub(r"[%_/]", lambda m: LIKE_ESCAPE + m[0], text)


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The `object_pairs_hook` of `json.loads` that refuses a repeated key (DuplicateKey)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateKey(f"repeats the key '{key}' in one object")
        seen.add(key)
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep(message: str) -> QueryError:
    return refuse("query-too-deep", "query", message)
