"""The spec's `apply` and `requires` read into the runtime's rule model, each rule with its place.

`$name` reads a field of the event (in `requires`, of the command); `$$text` is the literal text
`$text`; in `requires`, `{field: name}` reads another field of the state; in a view's `from`,
`@name` reads the event's metadata (`@aggregate_id`, `@recorded_at`, `@user`, ...) and
`@@text` is the literal text `@text`; anything else is a literal. This module is the one reader
of that convention: the checker, the generator and the contract-test samples all see the spec's
rules through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fluvius.domain.rules import (
    Change,
    Comparison,
    EventFieldRef,
    FieldRef,
    Literal,
    MetadataRef,
    Operand,
    Operation,
    Projection,
    Requirement,
    ViewRule,
)
from fluvius_cli.spec.document import Path

T = TypeVar("T")

REF_PREFIX = "$"
METADATA_PREFIX = "@"
STATE_REF_KEY = "field"


@dataclass(frozen=True)
class Located(Generic[T]):
    """A rule and where the spec writes it, relative to its event or command."""

    place: Path
    rule: T


def operand(raw: Any) -> Literal | EventFieldRef:
    """A value of `apply` as the model reads it."""
    if isinstance(raw, str) and raw.startswith(REF_PREFIX):
        rest = raw[len(REF_PREFIX) :]
        return Literal(rest) if rest.startswith(REF_PREFIX) else EventFieldRef(rest)
    return Literal(raw)


def view_operand(raw: Any) -> Literal | EventFieldRef | MetadataRef:
    """A value of a view's `from` rule: `@name` reads the event's metadata."""
    if isinstance(raw, str) and raw.startswith(METADATA_PREFIX):
        rest = raw[len(METADATA_PREFIX) :]
        return Literal(rest) if rest.startswith(METADATA_PREFIX) else MetadataRef(rest)
    return operand(raw)


def written(value: Literal | EventFieldRef | MetadataRef) -> Any:
    """An operand of `apply` or `from` as the spec writes it."""
    if isinstance(value, EventFieldRef):
        return f"{REF_PREFIX}{value.name}"
    if isinstance(value, MetadataRef):
        return f"{METADATA_PREFIX}{value.name}"
    raw = value.value
    return f"{REF_PREFIX}{raw}" if isinstance(raw, str) and raw.startswith(REF_PREFIX) else raw


def changes(
    apply: Mapping[str, Any], *, place: Path = ("apply",), read: Any = operand
) -> tuple[Located[Change], ...]:
    """An event's `apply` ({"set": {...}, "add": ..., "subtract": ...}), in the spec's order,
    each change placed under `place` and its value read by `read`."""
    return tuple(
        Located((*place, operation.value, field), Change(operation, field, read(raw)))
        for operation in Operation
        for field, raw in apply.get(operation.value, {}).items()
    )


def view_rule(rule: Mapping[str, Any]) -> tuple[ViewRule, tuple[Located[Change], ...]]:
    """A view's `from` rule ({"key": ..., "set": ..., "add": ..., "subtract": ..., "delete": ...})
    as the model reads it, with each change placed relative to the rule."""
    located = changes(rule, place=(), read=view_operand)
    projection = Projection(tuple(change.rule for change in located))
    return ViewRule(view_operand(rule["key"]), projection, bool(rule.get("delete"))), located


def requirements(requires: Mapping[str, Any]) -> tuple[Located[Requirement], ...]:
    """A command's `requires`: a field equal to a value or one of a list, or compared by name.

    `{status: open}` and `{status: [open, frozen]}` read as equality; `{balance: {ge: $amount}}`
    as comparisons, one requirement each, placed at the comparison's key.
    """
    located: list[Located[Requirement]] = []
    for field, guard in requires.items():
        if not isinstance(guard, Mapping):
            operands = tuple(Literal(value) for value in guard)
            located.append(Located(("requires", field), Requirement(field, operands)))
            continue
        for name, raw in guard.items():
            comparison = Comparison(name)
            values = raw if isinstance(raw, list) else [raw]
            rule = Requirement(field, tuple(guard_operand(value) for value in values), comparison)
            located.append(Located(("requires", field, name), rule))
    return tuple(located)


def guard_operand(raw: Any) -> Operand:
    """An operand of a comparison in `requires`: `{field: name}` reads the state."""
    if isinstance(raw, Mapping):
        return FieldRef(raw[STATE_REF_KEY])
    return operand(raw)
