"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from operator import eq, ge, gt, le, lt, ne
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ColumnElement, DateTime, Dialect, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.operators import (
    OperatorType,
    asc_op,
    between_op,
    desc_op,
    in_op,
    not_between_op,
    not_in_op,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

if TYPE_CHECKING:
    from sqlalchemy.sql.compiler import SQLCompiler


DECIMAL_ORDER = "fluvius_decimal"
"""The SQL function, on SQLite, that turns decimal text into `decimal_order_key` text."""


def decimal_order_key(value: Decimal | str | float | None) -> str | None:
    """Text that sorts, byte by byte, as the decimal `value` does among decimals.

    Zero is "1", positive numbers "2" then their exponent (offset to 20 digits) then their digits,
    negative numbers "0" then the nines' complement of those, closed by "~" (so that -1.2 comes
    before -1). Trailing zeros do not count: 9.90 and 9.9 share a key. Text that is not a decimal
    sorts after every number.
    """
    if value is None:
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        sign, digits, _ = number.as_tuple()
        adjusted = number.adjusted()
    except (ArithmeticError, ValueError):
        return f"3{value}"
    if not number.is_finite():
        return f"3{value}"
    text = "".join(map(str, digits)).rstrip("0")
    if not text:
        return "1"
    exponent = f"{adjusted + _EXPONENT_OFFSET:020d}"
    if not sign:
        return f"2{exponent}{text}"
    return f"0{exponent.translate(_COMPLEMENT)}{text.translate(_COMPLEMENT)}~"


_EXPONENT_OFFSET = 10**19
_COMPLEMENT = str.maketrans("0123456789", "9876543210")


class DecimalOrder(TypeDecorator[Decimal]):
    """The type of `numeric_order(...)`: decimals bound as their order key on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return decimal_order_key(value) if dialect.name == "sqlite" else value


class numeric_order(FunctionElement[Decimal]):  # noqa: N801 (an SQL function, named as one)
    """A Money expression as it compares and sorts numerically: itself on PostgreSQL,
    `fluvius_decimal(expression)` (its order key) on SQLite, where Money is text."""

    type = DecimalOrder()
    name = DECIMAL_ORDER
    inherit_cache = True


@compiles(numeric_order)
def _numeric_order(element: numeric_order, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(numeric_order, "sqlite")
def _numeric_order_on_sqlite(element: numeric_order, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{DECIMAL_ORDER}({compiler.process(element.clauses, **kw)})"


_ORDERING = {lt, le, gt, ge, eq, ne, in_op, not_in_op, between_op, not_between_op, asc_op, desc_op}


def _ordered(other: Any) -> Any:
    """`other` as it compares with a Money expression: Money expressions as `numeric_order`."""
    if isinstance(other, list | tuple):
        return type(other)(_ordered(item) for item in other)
    if isinstance(other, ColumnElement) and isinstance(other.type, Money):
        return numeric_order(other)
    return other


class Money(TypeDecorator[Decimal]):
    """Exact decimals, scale included: NUMERIC on PostgreSQL, the decimal's text on SQLite.

    SQLite has no exact decimal type (NUMERIC affinity turns 9.90 into the float 9.9), so there
    the column is TEXT holding the plain decimal, as `format(value, "f")` writes it. Comparisons
    and asc()/desc() of a Money expression are numeric on both backends: on SQLite they compare
    the `fluvius_decimal` order key of each side (`numeric_order`), a function every fluvius
    connection registers.
    """

    impl = Numeric
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[Decimal]):  # noqa: N801 (SQLAlchemy's name)
        def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
            if op in _ORDERING:
                return op(numeric_order(self.expr), *map(_ordered, other), **kwargs)  # type: ignore[no-any-return]
            return super().operate(op, *other, **kwargs)

        def reverse_operate(
            self, op: OperatorType, other: Any, **kwargs: Any
        ) -> ColumnElement[Any]:
            if op in _ORDERING:
                return op(_ordered(other), numeric_order(self.expr), **kwargs)  # type: ignore[no-any-return]
            return super().reverse_operate(op, other, **kwargs)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # Decimal text, or a number from a column made when SQLite stored decimals as NUMERIC
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored in UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if not isinstance(value, dt.datetime):
            return None
        if value.tzinfo is dt.UTC:  # as asyncpg returns them: a log read makes a million
            return value
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def json_type() -> TypeEngine[Any]:
    """JSON, stored as JSONB on PostgreSQL."""
    return JSON().with_variant(JSONB(), "postgresql")
