"""The rule model evaluates `apply` and `requires` on plain values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fluvius.domain.rules import (
    Change,
    Comparison,
    EventFieldRef,
    FieldRef,
    Literal,
    Operation,
    Projection,
    Requirement,
)


def _decimal(field: str, value: Any) -> Any:
    return None if value is None else Decimal(str(value))


def test_a_projection_sets_adds_and_subtracts_from_the_state_before_the_event() -> None:
    projection = Projection(
        (
            Change(Operation.SET, "owner", EventFieldRef("owner")),
            Change(Operation.ADD, "balance", EventFieldRef("amount")),
            Change(Operation.SUBTRACT, "limit", Literal(3)),
            Change(Operation.SET, "previous", FieldRef("balance")),
        )
    )
    state = {"owner": None, "balance": 10, "limit": None, "previous": None, "kept": "x"}

    after = projection.evaluate(state, {"owner": "ann", "amount": 5})

    assert after == {"owner": "ann", "balance": 15, "limit": -3, "previous": 10, "kept": "x"}
    assert state["balance"] == 10


def test_a_cast_turns_operands_into_values_of_the_field() -> None:
    change = Change(Operation.ADD, "balance", Literal("1.5"))

    assert change.evaluate({"balance": None}, {}, _decimal) == Decimal("1.5")
    assert change.evaluate({"balance": Decimal(2)}, {}, _decimal) == Decimal("3.5")


def test_a_requirement_holds_when_the_field_equals_one_of_its_operands() -> None:
    requirement = Requirement("status", (Literal("open"), EventFieldRef("expected")))

    assert requirement.evaluate({"status": "open"}, {"expected": "frozen"})
    assert requirement.evaluate({"status": "frozen"}, {"expected": "frozen"})
    assert not requirement.evaluate({"status": "closed"}, {"expected": "frozen"})
    assert requirement.accepted({}, {"expected": "frozen"}) == ["open", "frozen"]


@pytest.mark.parametrize(
    ("comparison", "holds"),
    [
        (Comparison.EQ, [False, True, False]),
        (Comparison.NE, [True, False, True]),
        (Comparison.LT, [True, False, False]),
        (Comparison.LE, [True, True, False]),
        (Comparison.GT, [False, False, True]),
        (Comparison.GE, [False, True, True]),
    ],
)
def test_a_comparison_orders_the_field_against_the_command(
    comparison: Comparison, holds: list[bool]
) -> None:
    requirement = Requirement("balance", (EventFieldRef("amount"),), comparison)

    results = [
        requirement.evaluate({"balance": Decimal(balance)}, {"amount": "5"}, _decimal)
        for balance in (4, 5, 6)
    ]

    assert results == holds


def test_a_comparison_reads_another_state_field() -> None:
    requirement = Requirement("on_loan", (FieldRef("copies"),), Comparison.LT)

    assert requirement.evaluate({"on_loan": 2, "copies": 3}, {})
    assert not requirement.evaluate({"on_loan": 3, "copies": 3}, {})


def test_in_holds_for_a_listed_value() -> None:
    requirement = Requirement("status", (Literal("open"), Literal("frozen")), Comparison.IN)

    assert requirement.evaluate({"status": "frozen"}, {})
    assert not requirement.evaluate({"status": "closed"}, {})


def test_nothing_orders_with_null() -> None:
    requirement = Requirement("balance", (EventFieldRef("amount"),), Comparison.GE)

    assert not requirement.evaluate({"balance": None}, {"amount": 1})
    assert not requirement.evaluate({"balance": 1}, {"amount": None})


def test_a_broken_rule_explains_itself_with_the_values() -> None:
    overdraft = Requirement("balance", (EventFieldRef("amount"),), Comparison.GE)
    listed = Requirement("status", (Literal("open"), Literal("frozen")), Comparison.IN)
    shelf = Requirement("on_loan", (FieldRef("copies"),), Comparison.LT)

    assert (
        overdraft.explain({"balance": Decimal("10.00")}, {"amount": Decimal("25.00")})
        == "balance must be at least amount (25.00); it is 10.00"
    )
    assert listed.explain({"status": "closed"}, {}) == (
        "status must be one of 'open', 'frozen'; it is 'closed'"
    )
    assert shelf.explain({"on_loan": 3, "copies": 3}, {}) == (
        "on_loan must be less than copies (3); it is 3"
    )
