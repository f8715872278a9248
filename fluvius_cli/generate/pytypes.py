"""How spec types become Python annotations, literals, conversions and SQLAlchemy columns.

Each is a code fragment carrying the imports it needs.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any, Literal

from fluvius.domain.files import FileInfo, parse_size
from fluvius.domain.types import DEFAULT_STRING_LENGTH
from fluvius_cli.generate.imports import Code, Import, code
from fluvius_cli.spec.model import FieldSpec

Role = Literal["state", "command", "event"]

_TYPES = "fluvius.domain.types"
_FILES = "fluvius.domain.files"
_DECIMAL = Import("decimal", "Decimal")
_UUID = Import("uuid")
_DATETIME = Import("datetime", alias="dt")
_SQL = "sqlalchemy"
_DATA = "fluvius.data"

# Annotations of payload fields (commands and events): strict JSON types, bounded so every
# accepted value stores (fluvius.domain.types).
_PAYLOAD = {
    "string": code("Text", Import(_TYPES, "Text")),
    "text": code("Text", Import(_TYPES, "Text")),
    "integer": code("Int64", Import(_TYPES, "Int64")),
    "decimal": code("Amount", Import(_TYPES, "Amount")),
    "float": code("Real", Import(_TYPES, "Real")),
    "boolean": code("Flag", Import(_TYPES, "Flag")),
    "uuid": code("Uuid", Import(_TYPES, "Uuid")),
    "ref": code("Uuid", Import(_TYPES, "Uuid")),
    "date": code("Day", Import(_TYPES, "Day")),
    "datetime": code("Timestamp", Import(_TYPES, "Timestamp")),
    "json": code("Json", Import(_TYPES, "Json")),
    "file": code("FileInfo", Import(_FILES, "FileInfo")),
}
# A command's file field takes an upload's id; the processor resolves it into the FileInfo.
_COMMAND = {**_PAYLOAD, "file": code("Upload", Import(_FILES, "Upload"))}
# The Python class of each type's values, as a view casts them.
_CLASSES = {
    "string": code("str"),
    "text": code("str"),
    "enum": code("str"),
    "integer": code("int"),
    "decimal": code("Decimal", _DECIMAL),
    "float": code("float"),
    "boolean": code("bool"),
    "uuid": code("uuid.UUID", _UUID),
    "ref": code("uuid.UUID", _UUID),
    "date": code("dt.date", _DATETIME),
    "datetime": code("dt.datetime", _DATETIME),
    "json": code("object"),
}
# Annotations of state fields: what the column holds, of those classes but for a decimal (exact)
# and JSON (a JSON value); a file's is its FileInfo, as in a payload.
_STATE = {
    **_PAYLOAD,
    **_CLASSES,
    "decimal": code("ExactDecimal", Import(_TYPES, "ExactDecimal")),
    "json": code("JsonValue", Import("pydantic", "JsonValue")),
}
BOUNDS = ("ge", "gt", "le", "lt")
_COLUMNS = {
    "text": code("Text()", Import(_SQL, "Text")),
    "integer": code("BigInteger()", Import(_SQL, "BigInteger")),
    "decimal": code("Money()", Import(_DATA, "Money")),
    "float": code("Float()", Import(_SQL, "Float")),
    "boolean": code("Boolean()", Import(_SQL, "Boolean")),
    "uuid": code("Uuid()", Import(_SQL, "Uuid")),
    "ref": code("Uuid()", Import(_SQL, "Uuid")),
    "date": code("Date()", Import(_SQL, "Date")),
    "datetime": code("UtcDateTime()", Import(_DATA, "UtcDateTime")),
    "json": code("json_type()", Import(_DATA, "json_type")),
    "file": code("json_type()", Import(_DATA, "json_type")),
}


def annotation(spec: FieldSpec, role: Role) -> Code:
    """The Python type of a field, without `| None`."""
    if spec.type == "enum":
        values = ", ".join(_string(value) for value in spec.values or [])
        return code(f"Literal[{values}]", Import("typing", "Literal"))
    return {"state": _STATE, "command": _COMMAND, "event": _PAYLOAD}[role][spec.type]


def bounded(spec: FieldSpec, base: Code) -> Code:
    """The annotation `base` of a payload field narrowed to the spec's numeric bounds.

    The bounds go inside the type, after its own (a decimal's pattern, 64 bits), so they win.
    """
    bounds = [
        f"{bound}={value!r}" for bound in BOUNDS if (value := getattr(spec, bound)) is not None
    ]
    if not bounds:
        return base
    annotated = Import("typing", "Annotated")
    if spec.type == "decimal":
        return code(
            f"Annotated[Decimal, DecimalText({', '.join(bounds)})]",
            annotated,
            _DECIMAL,
            Import(_TYPES, "DecimalText"),
        )
    narrowed = code(f"Annotated[{base.text}, Field({', '.join(bounds)})]", annotated)
    return Code(narrowed.text, narrowed.imports | base.imports | {Import("pydantic", "Field")})


def string_length(spec: FieldSpec) -> int | None:
    """The most characters a field holds; None for unbounded text."""
    if spec.type == "string":
        return spec.max_length or DEFAULT_STRING_LENGTH
    if spec.type == "text":
        return spec.max_length
    if spec.type == "enum":
        return max(len(value) for value in spec.values or [""])
    return None


def python_class(spec: FieldSpec) -> Code:
    """The Python class of the field's values."""
    return _CLASSES[spec.type]


def column_type(spec: FieldSpec, field_name: str) -> Code:
    """The SQLAlchemy type expression of a state column."""
    if spec.type == "string":
        return code(f"String({string_length(spec)})", Import(_SQL, "String"))
    if spec.type == "enum":
        values = ", ".join(_string(value) for value in spec.values or [])
        return code(
            f"Enum({values}, name={_string(field_name)}, native_enum=False, "
            f"create_constraint=True, length={string_length(spec)})",
            Import(_SQL, "Enum"),
        )
    return _COLUMNS[spec.type]


def file_rule(spec: FieldSpec) -> Code:
    """The `FileRule(...)` of a file field: its size limit in bytes and its content types."""
    arguments = []
    if spec.max_size is not None:
        arguments.append(f"max_size={parse_size(spec.max_size)}")
    if spec.content_types:
        patterns = [_string(pattern) for pattern in spec.content_types]
        tuple_text = f"({patterns[0]},)" if len(patterns) == 1 else f"({', '.join(patterns)})"
        arguments.append(f"content_types={tuple_text}")
    return code(f"FileRule({', '.join(arguments)})", Import("fluvius.domain", "FileRule"))


def literal(spec: FieldSpec, value: Any) -> Code:
    """`value` written as a Python literal of the field's type."""
    if value is None:
        return code("None")
    kind = spec.type
    if kind in ("string", "text", "enum"):
        return code(_string(str(value)))
    if kind == "integer":
        return code(str(int(value)))
    if kind == "decimal":
        return code(f"Decimal({_string(str(value))})", _DECIMAL)
    if kind == "float":
        return code(repr(float(value)))
    if kind == "boolean":
        return code("True" if value else "False")
    if kind in ("uuid", "ref"):
        return code(f"uuid.UUID({_string(str(uuid.UUID(str(value))))})", _UUID)
    if kind == "date":
        day = dt.date.fromisoformat(str(value))
        return code(f"dt.date({day.year}, {day.month}, {day.day})", _DATETIME)
    if kind == "datetime":
        return code(_datetime_literal(dt.datetime.fromisoformat(str(value))), _DATETIME)
    if isinstance(value, FileInfo):
        fields = ", ".join(
            f"{name}={_json_literal(item)}" for name, item in value.model_dump().items() if item
        )
        return code(f"FileInfo({fields})", Import(_FILES, "FileInfo"))
    return code(_json_literal(value))


def server_default(spec: FieldSpec) -> Code | None:
    """The column's SQL default, so that a migration can add the column to a table with rows."""
    if not spec.has_default or spec.default is None:
        return None
    if spec.type == "boolean":
        function = "true" if spec.default else "false"
        return code(f"{function}()", Import(_SQL, function))
    if spec.type == "json":
        return code(_string(json.dumps(spec.default)))
    if spec.type == "decimal":
        return code(_string(str(Decimal(str(spec.default)))))
    return code(_string(str(spec.default)))


def convert(expression: str, source: FieldSpec, target: FieldSpec) -> Code:
    """`expression`, a value of field `source`, as a value for field `target`."""
    pair = (source.type, target.type)
    if pair == ("integer", "decimal"):
        return code(f"Decimal({expression})", _DECIMAL)
    if pair in (("integer", "float"), ("decimal", "float")):
        return code(f"float({expression})")
    if pair == ("float", "decimal"):
        return code(f"Decimal(str({expression}))", _DECIMAL)
    return code(expression)


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
