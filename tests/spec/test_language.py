"""`apply` and `requires` are read once into the rule model, each rule with its place."""

from __future__ import annotations

from fluvius.domain.rules import (
    Change,
    Comparison,
    EventFieldRef,
    FieldRef,
    Literal,
    Operation,
    Requirement,
)
from fluvius_cli.spec.language import Located, changes, operand, requirements, written
from fluvius_cli.spec.model import ApplySpec, CommandSpec


def test_dollar_reads_a_field_and_two_dollars_write_a_literal_dollar() -> None:
    assert operand("$amount") == EventFieldRef("amount")
    assert operand("$$amount") == Literal("$amount")
    assert operand("open") == Literal("open")
    assert operand(0) == Literal(0)
    assert operand(None) == Literal(None)
    assert [written(operand(raw)) for raw in ("$amount", "$$amount", "open", 0)] == [
        "$amount",
        "$$amount",
        "open",
        0,
    ]


def test_apply_becomes_located_changes_in_the_spec_order() -> None:
    apply = ApplySpec(set={"owner": "$owner", "status": "open"}, subtract={"balance": "$amount"})

    assert apply.rules == changes({"set": apply.set, "subtract": apply.subtract})
    assert apply.rules == (
        Located(("apply", "set", "owner"), Change(Operation.SET, "owner", EventFieldRef("owner"))),
        Located(("apply", "set", "status"), Change(Operation.SET, "status", Literal("open"))),
        Located(
            ("apply", "subtract", "balance"),
            Change(Operation.SUBTRACT, "balance", EventFieldRef("amount")),
        ),
    )
    assert apply.projection.evaluate(
        {"owner": None, "status": None, "balance": 10}, {"owner": "ann", "amount": 4}
    ) == {"owner": "ann", "status": "open", "balance": 6}


def test_requires_become_located_requirements_of_literals() -> None:
    command = CommandSpec(emits=["x"], requires={"status": ["open", "frozen"]})

    assert command.guards == requirements(command.requires)
    assert command.guards == (
        Located(
            ("requires", "status"), Requirement("status", (Literal("open"), Literal("frozen")))
        ),
    )


def test_comparisons_read_the_command_the_state_and_literals() -> None:
    command = CommandSpec.model_validate(
        {
            "emits": ["x"],
            "requires": {
                "balance": {"ge": "$amount", "lt": 1000},
                "on_loan": {"lt": {"field": "copies"}},
                "status": {"in": ["open", "$$x"]},
            },
        }
    )

    assert command.guards == (
        Located(
            ("requires", "balance", "ge"),
            Requirement("balance", (EventFieldRef("amount"),), Comparison.GE),
        ),
        Located(
            ("requires", "balance", "lt"),
            Requirement("balance", (Literal(1000),), Comparison.LT),
        ),
        Located(
            ("requires", "on_loan", "lt"),
            Requirement("on_loan", (FieldRef("copies"),), Comparison.LT),
        ),
        Located(
            ("requires", "status", "in"),
            Requirement("status", (Literal("open"), Literal("$x")), Comparison.IN),
        ),
    )
