"""Value types of generated models, bounded so that every value they accept can be stored.

A value that passes these types never makes the database fail: integers fit 64 bits, decimals
and floats are finite, datetimes carry a timezone and stay within the years 1-9999 in UTC, and
text holds no NUL character (PostgreSQL refuses it), in strings and JSON alike.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, JsonValue

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DEFAULT_STRING_LENGTH = 255
DECIMAL_DIGITS = 30


def _not_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a whole number, not true or false")
    return value


def _fits_64_bits(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("the number does not fit 64 bits")
    return value


def _in_utc_range(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the moment falls outside the years 1-9999 in UTC") from None


def storable(value: Any) -> Any:
    """`value`, refused when it holds a NUL character or a number JSON cannot carry."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain the NUL character")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    elif isinstance(value, list):
        for item in value:
            storable(item)
    return value


Int64 = Annotated[
    int,
    BeforeValidator(_not_boolean),
    AfterValidator(_fits_64_bits),
    Field(json_schema_extra={"format": "int64"}),
]
"""An integer that fits a BIGINT column; the spec's own bounds combine with it."""

Amount = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=DECIMAL_DIGITS)]
"""A finite decimal number."""

Real = Annotated[float, Field(allow_inf_nan=False)]
"""A finite floating-point number."""

Text = Annotated[str, AfterValidator(storable)]
"""Text without NUL characters."""

Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]
"""A datetime with a timezone, kept in UTC."""

Json = Annotated[JsonValue, AfterValidator(storable)]
"""Any JSON value that a JSON column stores."""
