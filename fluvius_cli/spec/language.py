"""The spec's `apply` and `requires` read into the runtime's rule model, each rule with its place.

`$name` reads a field of the event; `$$text` is the literal text `$text`; anything else is a
literal. This module is the one reader of that convention: the checker, the generator and the
contract-test samples all see the spec's rules through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fluvius.domain.rules import Change, EventFieldRef, Literal, Operation, Requirement
from fluvius_cli.spec.document import Path

T = TypeVar("T")

REF_PREFIX = "$"


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


def written(value: Literal | EventFieldRef) -> Any:
    """An operand of `apply` as the spec writes it."""
    if isinstance(value, EventFieldRef):
        return f"{REF_PREFIX}{value.name}"
    raw = value.value
    return f"{REF_PREFIX}{raw}" if isinstance(raw, str) and raw.startswith(REF_PREFIX) else raw


def changes(apply: Mapping[str, Mapping[str, Any]]) -> tuple[Located[Change], ...]:
    """An event's `apply` ({"set": {...}, "add": ..., "subtract": ...}), in the spec's order."""
    return tuple(
        Located(("apply", operation.value, field), Change(operation, field, operand(raw)))
        for operation in Operation
        for field, raw in apply.get(operation.value, {}).items()
    )


def requirements(requires: Mapping[str, Sequence[Any]]) -> tuple[Located[Requirement], ...]:
    """A command's `requires`: each state field equal to one of its listed literals."""
    return tuple(
        Located(("requires", field), Requirement(field, tuple(Literal(v) for v in accepted)))
        for field, accepted in requires.items()
    )
