"""The `sort=` order, and keyset positions in it.

Items are `field.asc` or `field.desc` (a bare field is ascending); NULLs come last either way, and
`id` ends every order, so the order is total. Text orders by bytes on both backends, decimals by
value (on SQLite, where they are text, by their order key: fluvius.data.types.numeric_order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, false, literal, nulls_last, or_, tuple_

from fluvius.data.types import numeric_order
from fluvius.query.bytewise import bytewise
from fluvius.query.errors import QueryError, problem, unknown
from fluvius.query.fields import FieldKind, Kind

TIEBREAKER = "id"
DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class SortKey:
    """One field of an order and its direction."""

    name: str
    field: FieldKind
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.name}.{DIRECTIONS[self.descending]}"


def parse_sort(
    text: str | None, fields: Mapping[str, FieldKind], tiebreaker: str = TIEBREAKER
) -> tuple[SortKey, ...]:
    """The keys of `sort=`, ending with `tiebreaker` (a field no two rows share: `id`, or a
    view's key); only that when `text` is absent or blank.

    A field named twice sorts by its first mention (fluvius.query.schema.sort_pattern cannot
    refuse the second).
    """
    keys: list[SortKey] = []
    problems: list[dict[str, Any]] = []
    items = text.split(",") if text is not None and text.strip(" ") else []
    for item in (item.strip(" ") for item in items):
        key = _sort_key(item, fields, problems)
        # A field named again changes nothing: rows tied on it are tied again.
        if key is not None and all(key.name != other.name for other in keys):
            keys.append(key)
    if problems:
        raise QueryError(problems)
    if all(key.name != tiebreaker for key in keys):
        keys.append(SortKey(tiebreaker, fields[tiebreaker]))
    return tuple(keys)


def order_by(table: Table, keys: Sequence[SortKey], dialect: str) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for `keys`, NULLs last.

    NULLS LAST is spelled only for nullable fields: on a NOT NULL column it changes nothing but
    keeps PostgreSQL from reading a descending order off the column's (ascending) index.
    """
    clauses = []
    for key, expression in zip(keys, _expressions(table, keys, dialect), strict=True):
        clause = expression.desc() if key.descending else expression.asc()
        clauses.append(nulls_last(clause) if key.field.nullable else clause)
    return clauses


def after(
    table: Table, keys: Sequence[SortKey], position: Sequence[Any], dialect: str
) -> ColumnElement[bool]:
    """The rows that come after `position` (one value per key) in the order of `keys`.

    The leading keys that are NOT NULL and run in one direction are compared as a row,
    `(a, b) > (:a, :b)`: alone when they are all the keys, else as a bound `(a, b) >= (:a, :b)`
    beside the exact condition. Either way an index on `a` (or on `a, b`) seeks to the position
    instead of reading every row before it.
    """
    expressions = _expressions(table, keys, dialect)
    run = _run(keys)
    if run == len(keys):
        return _row_beyond(keys[0], expressions, position, strict=True)
    beyond = _beyond(keys, expressions, position)
    if run == 0:
        return beyond
    return and_(_row_beyond(keys[0], expressions[:run], position[:run], strict=False), beyond)


def _run(keys: Sequence[SortKey]) -> int:
    """How many leading keys are NOT NULL and share the first key's direction."""
    direction = keys[0].descending
    return len(list(takewhile(lambda k: not k.field.nullable and k.descending == direction, keys)))


def _row_beyond(
    first: SortKey,
    expressions: Sequence[ColumnElement[Any]],
    values: Sequence[Any],
    *,
    strict: bool,
) -> ColumnElement[bool]:
    """`(expressions) > (values)` in the direction of `first`; `>=` unless `strict`."""
    row = tuple_(*expressions)
    operands = tuple_(*(literal(v, e.type) for e, v in zip(expressions, values, strict=True)))
    if first.descending:
        return row < operands if strict else row <= operands
    return row > operands if strict else row >= operands


def _beyond(
    keys: Sequence[SortKey], expressions: Sequence[ColumnElement[Any]], position: Sequence[Any]
) -> ColumnElement[bool]:
    """The exact condition, key by key: beyond the first value, or tied and beyond the next."""
    terms: list[ColumnElement[bool]] = []
    ties: list[ColumnElement[bool]] = []
    for key, expression, value in zip(keys, expressions, position, strict=True):
        if value is None:  # NULLs come last: nothing comes after a NULL but other NULLs
            ties.append(expression.is_(None))
            continue
        operand = literal(value, expression.type)
        beyond = expression < operand if key.descending else expression > operand
        if key.field.nullable:
            beyond = or_(beyond, expression.is_(None))
        terms.append(and_(*ties, beyond))
        ties.append(expression == operand)
    return or_(false(), *terms)


def _expressions(table: Table, keys: Sequence[SortKey], dialect: str) -> list[ColumnElement[Any]]:
    return [_expression(table.c[key.name], key.field, dialect) for key in keys]


def _expression(column: ColumnElement[Any], field: FieldKind, dialect: str) -> ColumnElement[Any]:
    """`column` as it sorts: text byte by byte, decimals by value (they are text on SQLite)."""
    if field.kind in (Kind.STRING, Kind.ENUM):
        return bytewise(column, dialect)
    if field.number == "decimal":
        return numeric_order(column)
    return column


def _sort_key(
    item: str, fields: Mapping[str, FieldKind], problems: list[dict[str, Any]]
) -> SortKey | None:
    name, dot, direction = item.partition(".")
    where = item or "sort"  # where problems point
    sortable = [n for n, field in fields.items() if field.sortable]
    if name in fields and name not in sortable:
        message = f"sort= cannot use '{name}': JSON fields cannot be sorted. Allowed: "
        problems.append(
            problem("invalid-sort", where, message + ", ".join(sortable) + ".", allowed=sortable)
        )
        return None
    if name not in sortable:
        message, details = unknown(f"sort= field '{name}' is unknown", name, sortable)
        problems.append(problem("invalid-sort", where, message, **details))
        return None
    if dot and direction not in DIRECTIONS:
        message, details = unknown(
            f"sort= direction '{direction}' is unknown", direction, DIRECTIONS
        )
        problems.append(problem("invalid-sort", where, message, **details))
        return None
    return SortKey(name, fields[name], descending=direction == "desc")
