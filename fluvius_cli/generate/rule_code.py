"""The spec's rules as code: the `rules.*` objects a generated handler's guards and a generated
view's projections are declared with (fluvius.domain.rules)."""

from __future__ import annotations

from fluvius.domain.rules import Comparison, Literal, MetadataRef, Operand, Requirement, ViewRule
from fluvius_cli.generate import pytypes
from fluvius_cli.generate.imports import Code, Import, code, joined
from fluvius_cli.spec.model import FieldSpec

RULES = Import("fluvius.domain", "rules")


def operand(value: Operand | MetadataRef, spec: FieldSpec | None = None) -> Code:
    """`rules.<Reference>("name")`, or `rules.Literal(value)`: a value of the type of `spec`,
    or as the spec writes it when there is no field to type it."""
    if isinstance(value, Literal):
        typed = code(repr(value.value)) if spec is None else pytypes.literal(spec, value.value)
        return code("rules.Literal(", RULES) + typed + ")"
    return code(f"rules.{type(value).__name__}({value.name!r})", RULES)


def requirement(rule: Requirement, spec: FieldSpec) -> Code:
    """`rules.Requirement(...)` for a guard on the state field `spec`, its literals of its type."""
    operands = [operand(each, spec) for each in rule.operands]
    arguments = [code(f'"{rule.field}"'), "(" + joined(", ", operands) + ",)"]
    if rule.comparison is not Comparison.EQ:
        arguments.append(code(f"rules.Comparison.{rule.comparison.name}"))
    return code("rules.Requirement(", RULES) + joined(", ", arguments) + ")"


def view_rule(rule: ViewRule) -> Code:
    """`rules.ViewRule(...)`: the key of the row an event changes, and the changes it makes."""
    changes = [
        code(f"rules.Change(rules.Operation.{change.operation.name}, {change.target!r}, ", RULES)
        + operand(change.value)
        + ")"
        for change in rule.projection.changes
    ]
    projection = code("rules.Projection((", RULES) + joined(", ", changes)
    projection = projection + ("," if len(changes) == 1 else "") + "))"
    delete = ", delete=True" if rule.delete else ""
    return code("rules.ViewRule(", RULES) + operand(rule.key) + ", " + projection + delete + ")"
