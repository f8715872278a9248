"""The spec's rule language as data: how an event changes a state, and when a command may run.

An event's `apply` is a `Projection`: changes that set, add to or subtract from state fields.
A command's `requires` is a tuple of `Requirement`s on state fields. A view's `from` is a
`ViewRule` per event: the key of the row it changes, then a projection or a deletion. Each
operand is a literal, a field of the event or command (`$name` in the spec), a field of the
state, or, in views, the event's metadata (`@name`). The generator
writes code from these, its contract tests fold samples with them, and the runtime evaluates
them where rules are read at run time.

Values are compared and summed as they come; `cast(field, value)` turns an operand's value into
the type of the state field it meets (a spec literal `"1.5"` into `Decimal("1.5")`, say).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Values = Mapping[str, Any]
Cast = Callable[[str, Any], Any]


def as_given(field: str, value: Any) -> Any:
    """The cast that leaves values as they are."""
    return value


@dataclass(frozen=True)
class Literal:
    """A value written in the spec (`$$text` there is the text `$text` here)."""

    value: Any

    def resolve(self, state: Values, message: Values) -> Any:
        return self.value


@dataclass(frozen=True)
class EventFieldRef:
    """`$name`: a field of the event being applied (or of the command being checked)."""

    name: str

    def resolve(self, state: Values, message: Values) -> Any:
        return message.get(self.name)


@dataclass(frozen=True)
class FieldRef:
    """A field of the state before the change."""

    name: str

    def resolve(self, state: Values, message: Values) -> Any:
        return state.get(self.name)


EVENT_METADATA: Mapping[str, str] = {
    "aggregate_id": "uuid",
    "event_id": "uuid",
    "recorded_at": "datetime",
    "user": "string",
    "tenant": "string",
}
"""The metadata a view's rules may read (`@name`), with the spec type of each."""
METADATA_PREFIX = "@"


@dataclass(frozen=True)
class MetadataRef:
    """`@name`: the recorded event's metadata (its aggregate id, time, user, ...).

    It reads the key `@name` of the message, which `with_metadata` adds to the event's fields.
    """

    name: str

    def resolve(self, state: Values, message: Values) -> Any:
        return message.get(METADATA_PREFIX + self.name)


_PREFIXED = tuple(METADATA_PREFIX + name for name in EVENT_METADATA)


def with_metadata(fields: Values, metadata: Sequence[Any]) -> dict[str, Any]:
    """An event's fields with its metadata beside them, as `MetadataRef`s read them: `metadata`
    holds a value for each name of EVENT_METADATA, in its order."""
    message = dict(fields)
    message.update(zip(_PREFIXED, metadata, strict=True))
    return message


Operand = Literal | EventFieldRef | FieldRef
Reading = Literal | EventFieldRef | MetadataRef
"""What an event's change reads: a literal, the event's field, or (in views) its metadata."""


class Operation(StrEnum):
    """What a change does to its state field."""

    SET = "set"
    ADD = "add"
    SUBTRACT = "subtract"


@dataclass(frozen=True)
class Change:
    """One state field changed by an event: set to, increased by or decreased by `value`."""

    operation: Operation
    target: str
    value: Operand | MetadataRef

    def evaluate(self, state: Values, event: Values, cast: Cast = as_given) -> Any:
        """The field's new value (an absent number counts as zero)."""
        value = cast(self.target, self.value.resolve(state, event))
        if self.operation is Operation.SET:
            return value
        current = state.get(self.target)
        if current is None:
            current = cast(self.target, 0)
        return current + value if self.operation is Operation.ADD else current - value


@dataclass(frozen=True)
class Projection:
    """How an event changes the state: its changes, each to a field of its own."""

    changes: tuple[Change, ...] = ()

    def evaluate(self, state: Values, event: Values, cast: Cast = as_given) -> dict[str, Any]:
        """The state after the event."""
        changed = dict(state)
        for change in self.changes:
            changed[change.target] = change.evaluate(state, event, cast)
        return changed


@dataclass(frozen=True)
class ViewRule:
    """How one event changes a view: `key` selects the row, which the projection changes
    (created from the view's defaults when absent) or which is deleted."""

    key: Reading
    projection: Projection = Projection()
    delete: bool = False

    def row_key(self, event: Values) -> Any:
        """The key of the row the event changes."""
        return self.key.resolve({}, event)

    def evaluate(self, row: Values, event: Values, cast: Cast = as_given) -> dict[str, Any] | None:
        """The row after the event, or None when the event deletes it."""
        return None if self.delete else self.projection.evaluate(row, event, cast)


class Comparison(StrEnum):
    """How a state field is compared with a requirement's operands."""

    EQ = "eq"  # equal to one of them
    NE = "ne"  # equal to none of them
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"  # equal to one of them, written as a list

    @property
    def ordering(self) -> bool:
        """Whether the comparison orders values (lt, le, gt, ge) rather than matching them."""
        return self in _ORDERINGS

    @property
    def wording(self) -> str:
        """How a message says the comparison: "balance must be at least ..."."""
        return _WORDING[self]


_ORDERINGS: Mapping[Comparison, Callable[[Any, Any], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
}
_WORDING: Mapping[Comparison, str] = {
    Comparison.EQ: "",
    Comparison.NE: "other than ",
    Comparison.LT: "less than ",
    Comparison.LE: "at most ",
    Comparison.GT: "more than ",
    Comparison.GE: "at least ",
    Comparison.IN: "one of ",
}


def _holds(comparison: Comparison, actual: Any, values: list[Any]) -> bool:
    """Whether `actual` compares with `values` as `comparison` says; nothing orders with null."""
    if comparison is Comparison.NE:
        return actual not in values
    ordering = _ORDERINGS.get(comparison)
    if ordering is None:
        return actual in values
    return actual is not None and all(v is not None and ordering(actual, v) for v in values)


@dataclass(frozen=True)
class Requirement:
    """A guard: the state field `field` compares, by `comparison`, with `operands`.

    `eq` and `in` hold when the field equals one of the operands, `ne` when it equals none,
    and an ordering when it orders so with every operand (the spec gives it one).
    """

    field: str
    operands: tuple[Operand, ...]
    comparison: Comparison = Comparison.EQ

    def accepted(self, state: Values, command: Values, cast: Cast = as_given) -> list[Any]:
        """The operands' values, as values of the field."""
        return [cast(self.field, operand.resolve(state, command)) for operand in self.operands]

    def evaluate(self, state: Values, command: Values, cast: Cast = as_given) -> bool:
        """Whether the guard holds."""
        values = self.accepted(state, command, cast)
        return _holds(self.comparison, state.get(self.field), values)

    def explain(self, state: Values, command: Values, cast: Cast = as_given) -> str:
        """The rule and the field's value, as a sentence a client can show:
        "balance must be at least amount (25.00); it is 10.00"."""
        values = self.accepted(state, command, cast)
        shown = [
            _shown(value) if isinstance(operand, Literal) else f"{operand.name} ({_shown(value)})"
            for operand, value in zip(self.operands, values, strict=True)
        ]
        joiner = ", " if self.comparison is Comparison.IN else " or "
        actual = _shown(state.get(self.field))
        return f"{self.field} must be {self.comparison.wording}{joiner.join(shown)}; it is {actual}"


def _shown(value: Any) -> str:
    """A value in a message: text quoted, numbers and the rest as they print."""
    return repr(value) if isinstance(value, str) else "null" if value is None else str(value)
