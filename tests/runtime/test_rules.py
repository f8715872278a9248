"""The rule model evaluates `apply` and `requires` on plain values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fluvius.domain.rules import (
    Change,
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
