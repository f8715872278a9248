"""How spec types become Python annotations, literals, conversions and SQLAlchemy columns."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any, Literal

from fluvius.domain.types import DEFAULT_STRING_LENGTH
from fluvius_cli.spec.model import FieldSpec

Role = Literal["state", "command", "event"]

# Annotations of payload fields (commands and events): strict JSON types, bounded so every
# accepted value stores (fluvius.domain.types).
_PAYLOAD = {
    "string": "Text",
    "text": "Text",
    "integer": "Int64",
    "decimal": "Amount",
    "float": "Real",
    "boolean": "Flag",
    "uuid": "Uuid",
    "ref": "Uuid",
    "date": "Day",
    "datetime": "Timestamp",
    "json": "Json",
}
# Annotations of state fields: what the column holds.
_STATE = {
    **_PAYLOAD,
    "string": "str",
    "text": "str",
    "json": "JsonValue",
    "integer": "int",
    "decimal": "ExactDecimal",
    "float": "float",
    "boolean": "bool",
    "uuid": "uuid.UUID",
    "ref": "uuid.UUID",
    "date": "dt.date",
    "datetime": "dt.datetime",
}
BOUNDS = ("ge", "gt", "le", "lt")
_COLUMNS = {
    "text": "Text()",
    "integer": "BigInteger()",
    "decimal": "Money()",
    "float": "Float()",
    "boolean": "Boolean()",
    "uuid": "Uuid()",
    "ref": "Uuid()",
    "date": "Date()",
    "datetime": "UtcDateTime()",
    "json": "json_type()",
}


def annotation(spec: FieldSpec, role: Role) -> str:
    """The Python type of a field, without `| None`."""
    if spec.type == "enum":
        values = ", ".join(_string(value) for value in spec.values or [])
        return f"Literal[{values}]"
    return (_STATE if role == "state" else _PAYLOAD)[spec.type]


def bounded(spec: FieldSpec, base: str) -> str:
    """The annotation `base` of a payload field narrowed to the spec's numeric bounds.

    The bounds go inside the type, after its own (a decimal's pattern, 64 bits), so they win.
    """
    bounds = [
        f"{bound}={value!r}" for bound in BOUNDS if (value := getattr(spec, bound)) is not None
    ]
    if not bounds:
        return base
    if spec.type == "decimal":
        return f"Annotated[Decimal, DecimalText({', '.join(bounds)})]"
    return f"Annotated[{base}, Field({', '.join(bounds)})]"


def string_length(spec: FieldSpec) -> int | None:
    """The most characters a field holds; None for unbounded text."""
    if spec.type == "string":
        return spec.max_length or DEFAULT_STRING_LENGTH
    if spec.type == "text":
        return spec.max_length
    if spec.type == "enum":
        return max(len(value) for value in spec.values or [""])
    return None


def column_type(spec: FieldSpec, field_name: str) -> str:
    """The SQLAlchemy type expression of a state column."""
    if spec.type == "string":
        return f"String({string_length(spec)})"
    if spec.type == "enum":
        values = ", ".join(_string(value) for value in spec.values or [])
        return (
            f"Enum({values}, name={_string(field_name)}, native_enum=False, "
            f"create_constraint=True, length={string_length(spec)})"
        )
    return _COLUMNS[spec.type]


def literal(spec: FieldSpec, value: Any) -> str:
    """`value` written as a Python literal of the field's type."""
    if value is None:
        return "None"
    kind = spec.type
    if kind in ("string", "text", "enum"):
        return _string(str(value))
    if kind == "integer":
        return str(int(value))
    if kind == "decimal":
        return f"Decimal({_string(str(value))})"
    if kind == "float":
        return repr(float(value))
    if kind == "boolean":
        return "True" if value else "False"
    if kind in ("uuid", "ref"):
        return f"uuid.UUID({_string(str(uuid.UUID(str(value))))})"
    if kind == "date":
        day = dt.date.fromisoformat(str(value))
        return f"dt.date({day.year}, {day.month}, {day.day})"
    if kind == "datetime":
        return _datetime_literal(dt.datetime.fromisoformat(str(value)))
    return _json_literal(value)


def server_default(spec: FieldSpec) -> str | None:
    """The column's SQL default, so that a migration can add the column to a table with rows."""
    if not spec.has_default or spec.default is None:
        return None
    if spec.type == "boolean":
        return "true()" if spec.default else "false()"
    if spec.type == "json":
        return _string(json.dumps(spec.default))
    if spec.type == "decimal":
        return _string(str(Decimal(str(spec.default))))
    return _string(str(spec.default))


def convert(expression: str, source: FieldSpec, target: FieldSpec) -> str:
    """`expression`, a value of field `source`, as a value for field `target`."""
    pair = (source.type, target.type)
    if pair == ("integer", "decimal"):
        return f"Decimal({expression})"
    if pair in (("integer", "float"), ("decimal", "float")):
        return f"float({expression})"
    if pair == ("float", "decimal"):
        return f"Decimal(str({expression}))"
    return expression


def _datetime_literal(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    parts = [moment.year, moment.month, moment.day, moment.hour, moment.minute]
    if moment.second or moment.microsecond:
        parts.append(moment.second)
    if moment.microsecond:
        parts.append(moment.microsecond)
    return f"dt.datetime({', '.join(map(str, parts))}, tzinfo=dt.UTC)"


def _json_literal(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    return repr(value)


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)
