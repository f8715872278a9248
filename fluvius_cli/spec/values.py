"""Whether a literal value fits a field, and whether one field's type can flow into another's."""

from __future__ import annotations

import datetime as dt
import math
import operator
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from fluvius_cli.spec.model import NUMERIC_TYPES, TEXT_TYPES, FieldSpec


def value_problem(spec: FieldSpec, value: Any) -> str | None:
    """Why `value` cannot be stored in a field declared as `spec`, or None when it can."""
    if value is None:
        return None
    problem = _type_problem(spec, value)
    if problem is not None:
        return problem
    if spec.type in TEXT_TYPES and spec.max_length is not None and len(value) > spec.max_length:
        return f"is longer than max_length {spec.max_length}"
    if spec.type in NUMERIC_TYPES:
        return _bounds_problem(spec, Decimal(str(value)))
    return None


def _type_problem(spec: FieldSpec, value: Any) -> str | None:
    kind = spec.type
    if kind in TEXT_TYPES:
        return None if isinstance(value, str) else f"is not text (the field is {kind})"
    if kind == "boolean":
        return None if isinstance(value, bool) else "is not true or false"
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "is not a whole number"
    if kind in NUMERIC_TYPES:
        return None if is_number(value) else f"is not a number (the field is {kind})"
    if kind == "enum":
        values = spec.values or []
        return None if value in values else f"is not one of the enum values {', '.join(values)}"
    if kind in ("uuid", "ref"):
        return None if _parses(uuid.UUID, value) else "is not a UUID"
    if kind == "date":
        return None if _parses(dt.date.fromisoformat, value) else "is not a date (YYYY-MM-DD)"
    if kind == "datetime":
        return None if _parses(dt.datetime.fromisoformat, value) else "is not an ISO datetime"
    return None  # json holds any value


def is_number(value: Any) -> bool:
    """True for a finite number, or text that reads as one."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return Decimal(value).is_finite()
        except InvalidOperation:
            return False
    return False


def _parses(parse: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _bounds_problem(spec: FieldSpec, number: Decimal) -> str | None:
    checks = (
        (spec.ge, operator.ge, "at least"),
        (spec.gt, operator.gt, "greater than"),
        (spec.le, operator.le, "at most"),
        (spec.lt, operator.lt, "less than"),
    )
    for bound, holds, words in checks:
        if bound is not None and not holds(number, Decimal(str(bound))):
            return f"must be {words} {bound}"
    return None


_WIDENS_TO = {
    "integer": {"integer", "decimal", "float"},
    "decimal": {"decimal", "float"},
    "float": {"float", "decimal"},
    "string": {"string", "text"},
    "text": {"text", "string"},
    "enum": {"enum", "string", "text"},
    "uuid": {"uuid", "ref"},
    "ref": {"ref", "uuid"},
}


def flow_problem(source: FieldSpec, target: FieldSpec) -> str | None:
    """Why a value of field `source` cannot be copied into field `target`, or None."""
    if target.type == "json":
        return None
    if target.type not in _WIDENS_TO.get(source.type, {source.type}):
        return f"{source.type} values cannot be stored in a {target.type} field"
    if source.type == target.type == "ref" and source.to != target.to:
        return f"a ref to {source.to} cannot be stored in a ref to {target.to}"
    if source.type == "enum" and target.type == "enum":
        missing = sorted(set(source.values or []) - set(target.values or []))
        if missing:
            return f"enum values {', '.join(missing)} are not values of the target"
    return None


ORDERED_TYPES = frozenset({"integer", "decimal", "float", "date", "datetime"})
_KIND = {
    "integer": "number",
    "decimal": "number",
    "float": "number",
    "string": "text",
    "enum": "text",
    "ref": "uuid",
}


def compare_problem(left: FieldSpec, right: FieldSpec) -> str | None:
    """Why fields `left` and `right` cannot be compared, or None: numbers go with numbers,
    text with text, dates with dates, and so on."""
    kinds = [_KIND.get(spec.type, spec.type) for spec in (left, right)]
    if kinds[0] != kinds[1]:
        return f"{left.type} cannot be compared with {right.type}"
    return None


def amount_problem(target: FieldSpec, value: Any) -> str | None:
    """Why `value` cannot be added to or subtracted from a number field, or None."""
    if target.type == "integer":
        whole = isinstance(value, int) and not isinstance(value, bool)
        return None if whole else "is not a whole number (the field is integer)"
    return None if is_number(value) else "is not a number"


def shown(value: Any) -> str:
    """`value` spelt as in YAML, for messages: true, null, .nan, 'text'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)
