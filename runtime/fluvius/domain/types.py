"""Value types of generated models: strict, and bounded so that every value they accept stores.

Payloads arrive as JSON, and each type takes exactly the JSON its schema declares: integers are
JSON integers (not "30", 30.5 or true) that fit 64 bits; decimals are text like "9.90" (a JSON
number cannot carry one exactly; see fluvius.domain.decimals); floats are finite JSON numbers;
booleans are true or false; dates are "YYYY-MM-DD" text; datetimes are RFC 3339 text with a
timezone, within the years 1-9999 in UTC; UUIDs are their hyphenated text. Text holds no NUL
character (PostgreSQL refuses it), in strings and JSON alike.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any

import annotated_types
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    JsonValue,
    PlainSerializer,
    Strict,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from fluvius.domain.decimals import DECIMAL_LENGTH, decimal_pattern

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DEFAULT_STRING_LENGTH = 255

DATE_TEXT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
"""A date as JSON carries it (JSON Schema's `date` format, with its ranges left to parsing)."""
DATETIME_TEXT = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
"""An RFC 3339 date and time with its offset (JSON Schema's `date-time` format)."""
UUID_TEXT = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
"""A UUID's hyphenated text (JSON Schema's `uuid` format)."""

_DATE = re.compile(DATE_TEXT)
_DATETIME = re.compile(DATETIME_TEXT)
_UUID = re.compile(UUID_TEXT)


def _text_like(pattern: re.Pattern[str], wanted: str) -> Any:
    """A before-validator passing on only text that matches `pattern` (or the parsed value)."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ValueError(f"expected {wanted}")
        if isinstance(value, str | dt.date | uuid.UUID):
            return value
        raise ValueError(f"expected {wanted}, as a JSON string")

    return BeforeValidator(check)


def _in_utc_range(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the moment falls outside the years 1-9999 in UTC") from None


class DecimalText:
    """A decimal taken as JSON text matching `fluvius.domain.decimals.decimal_pattern`, bounds
    included: `Annotated[Decimal, DecimalText(gt=0)]`. Python code may pass a Decimal too."""

    def __init__(
        self,
        *,
        ge: Decimal | int | str | None = None,
        gt: Decimal | int | str | None = None,
        le: Decimal | int | str | None = None,
        lt: Decimal | int | str | None = None,
    ) -> None:
        self.bounds = {
            name: Decimal(str(bound))
            for name, bound in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt))
            if bound is not None
        }
        self.pattern = decimal_pattern(**self.bounds)
        self._compiled = re.compile(self.pattern)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _plain, when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": self.pattern,
            "maxLength": DECIMAL_LENGTH,
            "format": "decimal",
        }

    def validate(self, value: Any) -> Decimal:
        """`value` as a Decimal, or ValueError: decimal text within the bounds, or a Decimal."""
        if isinstance(value, str):
            if len(value) > DECIMAL_LENGTH or not self._compiled.fullmatch(value):
                raise ValueError(f"expected {self._wanted()}")
            return Decimal(value)
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"expected {self._wanted()}, as a JSON string")
        if not all(_OPERATORS[name](value, bound) for name, bound in self.bounds.items()):
            raise ValueError(f"expected {self._wanted()}")
        return value

    def _wanted(self) -> str:
        bounds = "".join(f", {_WORDS[name]} {bound}" for name, bound in self.bounds.items())
        return f'a decimal as text, like "9.90", of at most {DECIMAL_LENGTH} characters{bounds}'


_OPERATORS = {
    "ge": Decimal.__ge__,
    "gt": Decimal.__gt__,
    "le": Decimal.__le__,
    "lt": Decimal.__lt__,
}
_WORDS = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}


def _plain(value: Decimal) -> str:
    return format(value, "f")


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
    Strict(),
    annotated_types.Ge(INT64_MIN),
    annotated_types.Le(INT64_MAX),
    Field(json_schema_extra={"format": "int64"}),
]
"""A JSON integer that fits a BIGINT column; the spec's own bounds combine with it."""

Amount = Annotated[Decimal, DecimalText()]
"""A decimal, as JSON text; `Annotated[Decimal, DecimalText(ge=0)]` when the spec bounds it."""

ExactDecimal = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]
"""A state's decimal: in JSON, its plain digits, scale included ("0.000001", never "1E-6")."""

Real = Annotated[float, Strict(), Field(allow_inf_nan=False)]
"""A finite JSON number."""

Flag = Annotated[bool, Strict()]
"""true or false."""

Text = Annotated[str, AfterValidator(storable)]
"""Text without NUL characters."""

Day = Annotated[dt.date, _text_like(_DATE, "a date as YYYY-MM-DD")]
"""A date, as "YYYY-MM-DD" text."""

Timestamp = Annotated[
    AwareDatetime,
    _text_like(_DATETIME, "an RFC 3339 date and time with a timezone, like 2024-05-01T12:00:00Z"),
    AfterValidator(_in_utc_range),
]
"""A datetime with a timezone, as RFC 3339 text, kept in UTC."""

Uuid = Annotated[uuid.UUID, _text_like(_UUID, "a UUID, like 0190f3a4-5b6c-7d8e-9f00-112233445566")]
"""A UUID, as its hyphenated text."""

Json = Annotated[JsonValue, AfterValidator(storable)]
"""Any JSON value that a JSON column stores."""
