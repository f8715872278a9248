"""The JSON Schema of `query=` and the pattern of `sort=` for a listing, as OpenAPI declares them.

Both say exactly what the query builder accepts: each field with its own operators and values
(fluvius.query.values), `.and` / `.or` nesting the same object. What JSON Schema cannot say is
said in words by the parameter's description: at most MAX_CONDITIONS conditions and MAX_DEPTH
levels of nesting, in at most 4096 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fluvius.domain.types import DATE_TEXT, DATETIME_TEXT, UUID_TEXT
from fluvius.query.fields import FieldKind, Kind
from fluvius.query.filters import GROUPS, MAX_IN_VALUES
from fluvius.query.sorting import DIRECTIONS
from fluvius.query.values import DECIMAL_LIMIT, DECIMAL_QUERY_TEXT, FLOAT_LIMIT, INTEGER_RANGES

_NO_NUL = "^[^\\x00]*$"


def filter_schema(fields: Mapping[str, FieldKind], reference: str) -> dict[str, Any]:
    """The schema of a `query=` object over `fields`; `reference` points at this schema itself."""
    properties: dict[str, Any] = {}
    for name, field in fields.items():
        if not field.operators:  # JSON fields cannot be filtered
            continue
        value = value_schema(field)
        for operator in field.operators:
            operand = _operand(operator, value)
            if operator == "eq":
                properties[name] = operand
            properties[f"{name}.{operator}"] = operand
            properties[f"{name}!{operator}"] = operand
    group = {"type": "array", "minItems": 1, "items": {"$ref": reference}}
    properties.update({key: group for key in GROUPS})
    return {"type": "object", "properties": properties, "additionalProperties": False}


def sort_pattern(fields: Mapping[str, FieldKind]) -> str:
    """The pattern of `sort=`: sortable fields, each optionally `.asc` or `.desc`, by commas."""
    names = "|".join(re.escape(name) for name, field in fields.items() if field.sortable)
    item = f" *(?:{names})(?:\\.(?:{'|'.join(DIRECTIONS)}))? *"
    return f"^(?: *|{item}(?:,{item})*)$"


def value_schema(field: FieldKind) -> dict[str, Any]:
    """The schema of one value of `field` (not JSON), as fluvius.query.values reads it."""
    if field.kind is Kind.NUMBER:
        return _number(field)
    if field.kind is Kind.ENUM:
        return {"type": "string", "enum": list(field.values)}
    return dict(_VALUES[field.kind])


def _number(field: FieldKind) -> dict[str, Any]:
    bounds = INTEGER_RANGES.get(field.number)
    if bounds is not None:
        return {"type": "integer", "minimum": bounds[0], "maximum": bounds[1]}
    if field.number == "float":
        return {"type": "number", "minimum": -FLOAT_LIMIT, "maximum": FLOAT_LIMIT}
    limit = float(DECIMAL_LIMIT)
    return {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": -limit, "exclusiveMaximum": limit},
            {"type": "string", "pattern": f"^{DECIMAL_QUERY_TEXT}$"},
        ]
    }


def _operand(operator: str, value: dict[str, Any]) -> dict[str, Any]:
    if operator == "in":
        return {"type": "array", "items": value, "minItems": 1, "maxItems": MAX_IN_VALUES}
    if operator == "between":
        return {"type": "array", "items": value, "minItems": 2, "maxItems": 2}
    if operator in ("eq", "ne"):
        return {"anyOf": [value, {"type": "null"}]}
    return value


_VALUES: Mapping[Kind, dict[str, Any]] = {
    Kind.STRING: {"type": "string", "pattern": _NO_NUL},
    Kind.DATE: {"type": "string", "format": "date", "pattern": f"^{DATE_TEXT}$"},
    Kind.DATETIME: {"type": "string", "format": "date-time", "pattern": f"^{DATETIME_TEXT}$"},
    Kind.BOOLEAN: {"type": "boolean"},
    Kind.UUID: {"type": "string", "format": "uuid", "pattern": f"^{UUID_TEXT}$"},
}
