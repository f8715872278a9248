"""What each column of a state table is, as the query grammar sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Uuid,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

TENANT_COLUMN = "tenant_id"

NumberFormat = Literal["int16", "int32", "int64", "decimal", "float"]


class Kind(StrEnum):
    """The kinds of field the grammar knows; each has its own operators."""

    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    BOOLEAN = "boolean"
    UUID = "uuid"
    JSON = "json"


_ORDERED = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "between")

OPERATORS: Mapping[Kind, tuple[str, ...]] = {
    Kind.STRING: ("eq", "ne", "in", "has", "startswith"),
    Kind.NUMBER: _ORDERED,
    Kind.DATE: _ORDERED,
    Kind.DATETIME: _ORDERED,
    Kind.ENUM: ("eq", "ne", "in"),
    Kind.BOOLEAN: ("eq", "ne"),
    Kind.UUID: ("eq", "ne", "in"),
    Kind.JSON: (),
}


@dataclass(frozen=True)
class FieldKind:
    """A field of a listing: its kind, whether it may be NULL, a number's format, enum values."""

    kind: Kind
    nullable: bool
    number: NumberFormat | None = None
    values: tuple[str, ...] = ()

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators `query=` accepts for this field (none for JSON)."""
        return OPERATORS[self.kind]

    @property
    def sortable(self) -> bool:
        """Whether `sort=` accepts this field (every kind but JSON)."""
        return self.kind is not Kind.JSON


def fields_of(table: Table) -> dict[str, FieldKind]:
    """The fields of `table` a client may filter and sort on: every column but tenant_id."""
    return {
        column.name: _field_kind(column) for column in table.columns if column.name != TENANT_COLUMN
    }


def _field_kind(column: Column[Any]) -> FieldKind:
    column_type: TypeEngine[Any] = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    nullable = bool(column.nullable)
    # Order matters: an Enum is a String, a BigInteger an Integer, and (in SQLAlchemy 2.0) a
    # Float a Numeric. Integers are bounded by their PostgreSQL size on both backends.
    if isinstance(column_type, Enum):
        return FieldKind(Kind.ENUM, nullable, values=tuple(column_type.enums))
    if isinstance(column_type, String):
        return FieldKind(Kind.STRING, nullable)
    if isinstance(column_type, Boolean):
        return FieldKind(Kind.BOOLEAN, nullable)
    if isinstance(column_type, BigInteger):
        return FieldKind(Kind.NUMBER, nullable, number="int64")
    if isinstance(column_type, SmallInteger):
        return FieldKind(Kind.NUMBER, nullable, number="int16")
    if isinstance(column_type, Integer):
        return FieldKind(Kind.NUMBER, nullable, number="int32")
    if isinstance(column_type, Float):
        return FieldKind(Kind.NUMBER, nullable, number="float")
    if isinstance(column_type, Numeric):
        return FieldKind(Kind.NUMBER, nullable, number="decimal")
    if isinstance(column_type, DateTime):
        return FieldKind(Kind.DATETIME, nullable)
    if isinstance(column_type, Date):
        return FieldKind(Kind.DATE, nullable)
    if isinstance(column_type, Uuid):
        return FieldKind(Kind.UUID, nullable)
    if isinstance(column_type, JSON):
        return FieldKind(Kind.JSON, nullable)
    raise TypeError(
        f"column '{column.name}' has type {column.type!r}, which queries do not support"
    )
