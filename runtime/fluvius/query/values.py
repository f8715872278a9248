"""Values of `query=` and cursors: JSON values checked and converted to a field's Python type.

Each kind takes exactly the JSON that `fluvius.query.schema` declares for it: integers are JSON
integers, floats JSON numbers, decimals JSON numbers or decimal text ("9.90"), dates "YYYY-MM-DD",
datetimes RFC 3339 text with a timezone, UUIDs their hyphenated text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fluvius.domain.types import DATE_TEXT, DATETIME_TEXT, UUID_TEXT
from fluvius.query.fields import FieldKind, Kind

INTEGER_RANGES: Mapping[str | None, tuple[int, int]] = {
    name: (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    for name, bits in (("int16", 16), ("int32", 32), ("int64", 64))
}
DECIMAL_LIMIT = Decimal("1e100")
FLOAT_LIMIT = sys.float_info.max
# Decimal text below DECIMAL_LIMIT in size (query= itself bounds its length).
DECIMAL_QUERY_TEXT = r"-?(?:0|[1-9][0-9]{0,99})(?:\.[0-9]+)?"

_DECIMAL = re.compile(DECIMAL_QUERY_TEXT)
_DATE = re.compile(DATE_TEXT)
_DATETIME = re.compile(DATETIME_TEXT)
_UUID = re.compile(UUID_TEXT)


class InvalidValue(ValueError):
    """A value that does not fit its field; the caller says what was expected."""


def expected(field: FieldKind) -> str:
    """What a value of `field` (not JSON) must be, in words."""
    if field.kind is Kind.NUMBER:
        return _expected_number(field)
    if field.kind is Kind.ENUM:
        return "one of " + ", ".join(field.values)
    return _EXPECTED[field.kind]


def to_python(field: FieldKind, raw: object) -> Any:
    """`raw` (decoded JSON) as a value of `field` (not JSON), or InvalidValue. Never None."""
    return _PARSERS[field.kind](field, raw)


def to_json(field: FieldKind, value: Any) -> Any:
    """`value` of `field` as JSON that `to_python` turns back into the same value."""
    if value is None or field.kind in (Kind.STRING, Kind.ENUM, Kind.BOOLEAN):
        return value
    if field.kind in (Kind.DATE, Kind.DATETIME):
        return value.isoformat()
    if field.kind is Kind.NUMBER:
        # exactly: integers and floats as JSON numbers (repr round-trips), Decimals as text
        return format(value, "f") if isinstance(value, Decimal) else value
    return str(value)  # UUIDs


def _expected_number(field: FieldKind) -> str:
    bounds = INTEGER_RANGES.get(field.number)
    if bounds is not None:
        return f"a whole number (a JSON integer) from {bounds[0]} to {bounds[1]}"
    if field.number == "float":
        return "a finite number (a JSON number)"
    return 'a number (a JSON number, or decimal text like "9.90") below 1e100 in size'


def _text(raw: object) -> str:
    """A string both databases can bind: no NUL character, no lone surrogate."""
    if not isinstance(raw, str) or "\x00" in raw:
        raise InvalidValue
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue from None
    return raw


def _string(_field: FieldKind, raw: object) -> str:
    return _text(raw)


def _number(field: FieldKind, raw: object) -> int | float | Decimal:
    """A JSON number (decoded as int or Decimal); decimal fields take decimal text too."""
    if isinstance(raw, str) and field.number == "decimal" and _DECIMAL.fullmatch(raw):
        raw = Decimal(raw)
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise InvalidValue
    try:
        return _bounded(field, Decimal(raw))
    except ArithmeticError:  # an exponent beyond what Decimal arithmetic holds
        raise InvalidValue from None


def _bounded(field: FieldKind, number: Decimal) -> int | float | Decimal:
    """`number` as the field's kind of number, or InvalidValue when it does not fit."""
    bounds = INTEGER_RANGES.get(field.number)
    if bounds is not None:
        if not bounds[0] <= number <= bounds[1] or number != number.to_integral_value():
            raise InvalidValue
        return int(number)
    if field.number == "float":
        converted = float(number)
        if not math.isfinite(converted):
            raise InvalidValue
        return converted
    if not number.is_finite() or abs(number) >= DECIMAL_LIMIT:
        raise InvalidValue
    return number


def _date(_field: FieldKind, raw: object) -> dt.date:
    if not isinstance(raw, str) or not _DATE.fullmatch(raw):
        raise InvalidValue
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidValue from None


def _datetime(_field: FieldKind, raw: object) -> dt.datetime:
    if not isinstance(raw, str) or not _DATETIME.fullmatch(raw):
        raise InvalidValue
    try:
        moment = dt.datetime.fromisoformat(raw.upper())
    except ValueError:
        raise InvalidValue from None
    if moment.tzinfo is None:
        raise InvalidValue
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # beyond the years 1 to 9999 once in UTC
        raise InvalidValue from None


def _enum(field: FieldKind, raw: object) -> str:
    if not isinstance(raw, str) or raw not in field.values:
        raise InvalidValue
    return raw


def _boolean(_field: FieldKind, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise InvalidValue
    return raw


def _uuid(_field: FieldKind, raw: object) -> uuid.UUID:
    if not isinstance(raw, str) or not _UUID.fullmatch(raw):
        raise InvalidValue
    return uuid.UUID(raw)


_PARSERS: Mapping[Kind, Callable[[FieldKind, object], Any]] = {
    Kind.STRING: _string,
    Kind.NUMBER: _number,
    Kind.DATE: _date,
    Kind.DATETIME: _datetime,
    Kind.ENUM: _enum,
    Kind.BOOLEAN: _boolean,
    Kind.UUID: _uuid,
}

_EXPECTED = {
    Kind.STRING: "a string",
    Kind.DATE: "a date as YYYY-MM-DD",
    Kind.DATETIME: "an RFC 3339 date and time with a timezone, like 2024-05-01T12:00:00Z",
    Kind.BOOLEAN: "true or false",
    Kind.UUID: "a UUID, like 0190f3a4-5b6c-7d8e-9f00-112233445566",
}
