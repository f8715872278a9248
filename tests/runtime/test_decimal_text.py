"""Decimal text: the pattern of a bounded decimal says exactly what its bounds allow, and the
order key of a decimal sorts as the number does."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from fluvius.data.types import decimal_order_key
from fluvius.domain.decimals import DECIMAL_TEXT, decimal_pattern
from fluvius.domain.types import DecimalText

texts = st.from_regex(r"\A-?(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,5})?\Z")
bounds = st.decimals(min_value=-100000, max_value=100000, places=3) | st.sampled_from(
    [Decimal(0), Decimal("0.5"), Decimal(10), Decimal(-10), Decimal("-0.05"), Decimal(1)]
)
OPERATORS = {
    "ge": Decimal.__ge__,
    "gt": Decimal.__gt__,
    "le": Decimal.__le__,
    "lt": Decimal.__lt__,
}


@settings(max_examples=600, deadline=None)
@given(texts, bounds, st.sampled_from(sorted(OPERATORS)))
def test_a_bounded_pattern_matches_exactly_the_numbers_within(
    text: str, bound: Decimal, name: str
) -> None:
    pattern = re.compile(decimal_pattern(**{name: bound}))
    assert bool(pattern.fullmatch(text)) == OPERATORS[name](Decimal(text), bound)


@settings(max_examples=300, deadline=None)
@given(texts, bounds, bounds)
def test_two_bounds_make_one_pattern(text: str, low: Decimal, high: Decimal) -> None:
    pattern = re.compile(decimal_pattern(gt=low, le=high))
    assert bool(pattern.fullmatch(text)) == (low < Decimal(text) <= high)


@pytest.mark.parametrize("text", [" 5 ", "1_000", "1e3", "+5", ".5", "5.", "05", "٥", "NaN"])
def test_only_plain_decimal_text_is_a_decimal(text: str) -> None:
    assert not re.fullmatch(DECIMAL_TEXT, text)
    with pytest.raises(ValidationError):
        TypeAdapter(Annotated[Decimal, DecimalText()]).validate_python(text)


def test_decimal_text_keeps_its_scale_and_refuses_json_numbers() -> None:
    amount = TypeAdapter(Annotated[Decimal, DecimalText(gt=0)])
    assert str(amount.validate_python("9.90")) == "9.90"
    assert amount.dump_json(Decimal("0.000001")) == b'"0.000001"'
    for refused in (5, 5.0, True, "0", "-1", Decimal("-1")):
        with pytest.raises(ValidationError):
            amount.validate_python(refused)


@settings(max_examples=500, deadline=None)
@given(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
)
def test_order_keys_sort_as_the_numbers(a: Decimal, b: Decimal) -> None:
    key_a, key_b = decimal_order_key(a), decimal_order_key(b)
    assert key_a is not None
    assert key_b is not None
    assert (key_a < key_b) == (a < b)
    assert (key_a == key_b) == (a == b)
