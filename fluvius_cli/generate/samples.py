"""The contract tests of an aggregate, worked out from the spec alone.

For every command: a history of events that lets the command run (its `requires` met), the
command with sample values, and the events and state the spec says must follow. The expected
state is folded here, by the rule model from the spec's `apply`, independently of the generated
code it tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fluvius.domain.files import FileInfo
from fluvius.domain.rules import EventFieldRef, FieldRef, Operation, Requirement
from fluvius_cli.generate import pytypes
from fluvius_cli.generate.imports import Code, Import, Imports
from fluvius_cli.generate.view import (
    AggregateView,
    CommandView,
    EventView,
    FieldView,
)
from fluvius_cli.spec.model import NUMERIC_TYPES, FieldSpec

SAMPLE_DAY = dt.date(2024, 1, 15)
SAMPLE_MOMENT = dt.datetime(2024, 1, 15, 9, 30, tzinfo=dt.UTC)
SAMPLE_NAMESPACE = uuid.UUID("5e7f6c1a-0b4d-4c3e-9a8b-2f1d0c9e8a7b")
GUARD_ROUNDS = 3

State = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """A message constructed with sample values: `Deposit(amount=Decimal("1"))`, with the
    imports it needs."""

    class_name: str
    arguments: tuple[tuple[str, str], ...]
    imports: frozenset[Import]

    @property
    def code(self) -> str:
        inner = ", ".join(f"{name}={value}" for name, value in self.arguments)
        return f"{self.class_name}({inner})"


@dataclass(frozen=True)
class Expected:
    """A state field's expected value after the command."""

    field: str
    value: Code

    @property
    def code(self) -> str:
        return self.value.text

    @property
    def comparison(self) -> str:
        """`is` for the singletons True, False and None; `==` for every other value."""
        return "is" if self.code in ("True", "False", "None") else "=="


@dataclass(frozen=True)
class Subject:
    """The class a test runs commands on: the generated base class (what the spec alone makes
    of the aggregate), or the user's subclass (with the business rules added to it)."""

    aggregate: AggregateView
    base: bool

    @property
    def class_name(self) -> str:
        return self.aggregate.base_class if self.base else self.aggregate.class_name

    @property
    def generated_module(self) -> str:
        return f"{self.package}._generated.{self.aggregate.module}"

    @property
    def package(self) -> str:
        return f"{self.aggregate.domain.project.package}.{self.aggregate.domain.name}"

    @property
    def source(self) -> Import:
        """The import of the class."""
        module = self.generated_module if self.base else f"{self.package}.{self.aggregate.module}"
        return Import(module, self.class_name)


@dataclass(frozen=True)
class Seed:
    """An aggregate the command refers to, recorded beforehand under the id the command names."""

    subject: Subject
    aggregate_id: Code
    history: tuple[Call, ...]

    @property
    def code(self) -> str:
        """The statement that records it: `await scenario.given(Patient, ...).record(id)`."""
        calls = "".join(f", {call.code}" for call in self.history)
        return f"await scenario.given({self.subject.class_name}{calls}).record({self.aggregate_id})"

    def imports(self) -> set[Import]:
        needed = {self.subject.source, *self.aggregate_id.imports}
        for call in self.history:
            needed |= call.imports
        return needed


@dataclass(frozen=True)
class Case:
    """One contract test: given events (and the aggregates the command refers to), when a
    command, then events and state, or a refusal."""

    name: str
    command: CommandView
    given: tuple[Call, ...]
    when: Call
    then_events: tuple[Call, ...] = ()
    then_state: tuple[Expected, ...] = ()
    version: int = 0
    refused: bool = False
    seeds: tuple[Seed, ...] = ()


class ContractTests:
    """The contract tests of one aggregate, run on its generated base class (`base`), or on the
    user's subclass."""

    def __init__(self, aggregate: AggregateView, *, base: bool = True) -> None:
        self.aggregate = aggregate
        self.subject = Subject(aggregate, base)
        self.state_fields = {field.name: field for field in aggregate.fields}

    @functools.cached_property
    def cases(self) -> list[Case]:
        cases = []
        for command in self.aggregate.commands:
            accepted = self._accepted_case(command)
            cases.append(accepted)
            if not accepted.refused:
                cases.extend(self._refusal_cases(command))
        return cases

    @property
    def creation(self) -> Case:
        """The accepted case of the first creating command."""
        return next(case for case in self.cases if case.command.spec.create and not case.refused)

    def imports(self, cases: list[Case] | None = None) -> Imports:
        """What the test module of `cases` (all by default) imports."""
        imports = Imports()
        imports.add(Import("fluvius.testing", "Scenario"))
        imports.add(self.subject.source)
        for case in self.cases if cases is None else cases:
            for call in (*case.given, case.when, *case.then_events):
                imports.update(call.imports)
            for expected in case.then_state:
                imports.update(expected.value.imports)
            for seed in case.seeds:
                imports.update(seed.imports())
            if case.refused:
                imports.add(Import("pytest"))
                imports.add(Import("fluvius.domain", "GuardFailed"))
        return imports

    def rule_example(self) -> list[str]:
        """Lines of an example business rule for the user module, fitted to this aggregate."""
        overdraft = self._overdraft()
        if overdraft is not None:
            command, amount, balance = overdraft
            current = f"self.state.{balance}"
            if self.state_fields[balance].optional:
                current = f"({current} or 0)"
            condition = f"if command.{amount} > {current}:"
            refusal = (
                f'raise Rejected("insufficient-{balance}", "cannot take more than the {balance}")'
            )
        else:
            command = self._first_changing_command()
            condition = "if ...:  # a condition on `command` and `self.state`"
            refusal = f'raise Rejected("{command.name}-refused", "why it is refused")'
        return [
            f"def {command.method}(self, command: {command.class_name}) -> list[Event]:",
            f"    {condition}",
            f"        {refusal}",
            f"    return super().{command.method}(command)",
        ]

    # Samples --------------------------------------------------------------------------------

    def _sample(self, field: FieldView, *, large: bool) -> Any:
        """A value for `field` within its constraints: large numbers for creating commands."""
        spec = field.spec
        kind = spec.type
        if kind in NUMERIC_TYPES:
            return _number_within(spec, 100 if large else 1)
        if kind == "string":
            return f"{field.name}-1"[: field.max_length]
        if kind == "text":
            return f"About {field.name}."[: field.max_length]
        if kind == "enum":
            return (spec.values or [""])[0]
        if kind == "boolean":
            return True
        if kind in ("uuid", "ref"):
            return uuid.uuid5(SAMPLE_NAMESPACE, field.name)
        if kind == "date":
            return SAMPLE_DAY
        if kind == "datetime":
            return SAMPLE_MOMENT
        if kind == "file":
            return FileInfo(
                id=str(uuid.uuid5(SAMPLE_NAMESPACE, field.name)),
                name=f"{field.name}.bin",
                size=1,
                sha256=hashlib.sha256(b"\0").hexdigest(),
                content_type="application/octet-stream",
            )
        return {"sample": field.name}

    def _call(self, class_name: str, fields: list[FieldView], values: dict[str, Any]) -> Call:
        arguments = []
        imports = {Import(self.subject.generated_module, class_name)}
        for field in fields:
            if field.name in values:
                value = pytypes.literal(field.spec, _scalar(values[field.name]))
                arguments.append((field.name, value.text))
                imports |= value.imports
        return Call(class_name, tuple(arguments), frozenset(imports))

    def _seeds(self, command: CommandView, values: dict[str, Any]) -> tuple[Seed, ...]:
        """The aggregates that the ref fields of `command` with `values` name."""
        seeds = []
        for name, target in command.ref_targets:
            if values.get(name) is None:
                continue
            seeds.append(
                Seed(
                    Subject(target, self.subject.base),
                    pytypes.literal(command.spec.fields[name], _scalar(values[name])),
                    tuple(ContractTests(target).history_calls()),
                )
            )
        return tuple(seeds)

    # Folding the spec -----------------------------------------------------------------------

    def _initial(self) -> State:
        return {
            field.name: _value(field.spec, field.spec.default) if field.spec.has_default else None
            for field in self.aggregate.fields
        }

    def _emitted(
        self, command: CommandView, values: dict[str, Any]
    ) -> list[tuple[EventView, State]]:
        """The events `command` emits by default, with their values."""
        emitted = []
        for event in command.emits:
            data = {}
            for field in event.fields:
                if field.name in values:
                    data[field.name] = _convert(
                        values[field.name], command.spec.fields[field.name], field.spec
                    )
                elif field.spec.has_default:
                    data[field.name] = _value(field.spec, field.spec.default)
            emitted.append((event, data))
        return emitted

    def _apply(self, state: State, event: EventView, data: State) -> State:
        return event.spec.apply.projection.evaluate(state, data, self._cast)

    def _cast(self, field: str, value: Any) -> Any:
        """`value` as a value of the state field `field`."""
        return _value(self.state_fields[field].spec, _scalar(value))

    # Cases ----------------------------------------------------------------------------------

    def _history(self, command: CommandView) -> tuple[list[tuple[EventView, State]], State]:
        """A history that creates the aggregate, unless `command` creates it."""
        if command.spec.create:
            return [], self._initial()
        return self.creation_history()

    def creation_history(self) -> tuple[list[tuple[EventView, State]], State]:
        """The events of the first creating command, with sample values, and their state."""
        creator = next(c for c in self.aggregate.commands if c.spec.create)
        history = self._emitted(creator, self.values(creator, large=True))
        return history, self._fold(self._initial(), history)

    def created_state(self, command: CommandView, values: dict[str, Any]) -> State:
        """The state a creating `command` with `values` makes."""
        return self._fold(self._initial(), self._emitted(command, values))

    def history_calls(self) -> list[Call]:
        """The creation history as event constructor calls."""
        return [self._event_call(event, data) for event, data in self.creation_history()[0]]

    def _fold(self, state: State, events: list[tuple[EventView, State]]) -> State:
        for event, data in events:
            state = self._apply(state, event, data)
        return state

    def values(self, command: CommandView, *, large: bool) -> dict[str, Any]:
        """Sample values of `command`'s fields (large numbers for a creating command)."""
        return {field.name: self._sample(field, large=large) for field in command.fields}

    def _accepted_case(self, command: CommandView) -> Case:
        history, state = self._history(command)
        values = self.values(command, large=command.spec.create)
        for _ in range(GUARD_ROUNDS):
            unmet = self._unmet(command, state, values)
            if not unmet:
                break
            for rule in unmet:
                if (step := self._event_meeting(rule, state, values, inside=True)) is not None:
                    history.append(step)
                    state = self._apply(state, *step)
        when = self._call(command.class_name, command.fields, values)
        given = tuple(self._event_call(event, data) for event, data in history)
        seeds = self._seeds(command, values)
        if self._unmet(command, state, values):
            name = f"test_{command.method}_is_refused"
            return Case(name, command, given, when, refused=True, seeds=seeds)
        emitted = self._emitted(command, values)
        final = self._fold(state, emitted)
        changed = {name for event, _ in emitted for name, _ in event.changes}
        then_state = tuple(
            self._expected(name, final[name]) for name in self.state_fields if name in changed
        )
        return Case(
            f"test_{command.method}",
            command,
            given,
            when,
            then_events=tuple(self._event_call(event, data) for event, data in emitted),
            then_state=then_state,
            version=len(history) + len(emitted),
            seeds=seeds,
        )

    def _refusal_cases(self, command: CommandView) -> list[Case]:
        """The command refused by each guard that the creation (or one more event) breaks."""
        cases: dict[str, Case] = {}
        for rule in self._requirements(command):
            case = self._refusal_case(command, rule)
            if case is not None:
                cases.setdefault(case.name, case)
        return list(cases.values())

    def _refusal_case(self, command: CommandView, rule: Requirement) -> Case | None:
        """The command refused by `rule` alone, after the creation and maybe one more event."""
        values = self.values(command, large=False)
        history, state = self._history(command)
        if rule.evaluate(state, values, self._cast):
            step = self._event_meeting(rule, state, values, inside=False)
            if step is None:
                return None
            history.append(step)
            state = self._apply(state, *step)
        if self._unmet(command, state, values) != [rule]:
            return None
        readable = str(_scalar(state[rule.field])).replace("-", "_").lower()
        name = f"test_{command.method}_is_refused_when_{rule.field}_is_{readable}"
        return Case(
            name if name.isidentifier() else f"test_{command.method}_is_refused",
            command,
            tuple(self._event_call(event, data) for event, data in history),
            self._call(command.class_name, command.fields, values),
            refused=True,
            seeds=self._seeds(command, values),
        )

    def _unmet(self, command: CommandView, state: State, values: State) -> list[Requirement]:
        """The guards of `command` with `values` that `state` does not meet."""
        return [
            rule
            for rule in self._requirements(command)
            if not rule.evaluate(state, values, self._cast)
        ]

    @staticmethod
    def _requirements(command: CommandView) -> list[Requirement]:
        return [located.rule for located in command.spec.guards]

    def _event_meeting(
        self, rule: Requirement, state: State, values: State, *, inside: bool
    ) -> tuple[EventView, State] | None:
        """An event, with values, after which `rule` holds (or, `inside` false, fails): one that
        changes the guarded field, or a state field the rule compares it with."""
        read = [rule.field, *(o.name for o in rule.operands if isinstance(o, FieldRef))]
        for field_name in read:
            for event in self.aggregate.events:
                changes = event.spec.apply.projection.changes
                if not any(change.target == field_name for change in changes):
                    continue
                for data in self._event_samples(event, field_name):
                    after = self._apply(state, event, data)
                    if rule.evaluate(after, values, self._cast) == inside:
                        return event, data
        return None

    def _event_samples(self, event: EventView, field_name: str) -> list[State]:
        """Values of `event` to try for changing `field_name`: every choice of the field that
        sets it, else small and large samples."""
        small = {field.name: self._event_sample(field) for field in event.fields}
        large = {field.name: self._sample(field, large=True) for field in event.fields}
        for change in event.spec.apply.projection.changes:
            if change.target == field_name and isinstance(change.value, EventFieldRef):
                source = event.field(change.value.name)
                choices = _choices(source.spec)
                if choices:
                    return [{**small, source.name: choice} for choice in choices]
        return [small, large]

    def _event_sample(self, field: FieldView) -> Any:
        if field.spec.has_default:
            return _value(field.spec, field.spec.default)
        return self._sample(field, large=False)

    def _event_call(self, event: EventView, data: State) -> Call:
        return self._call(event.class_name, event.fields, data)

    def _expected(self, name: str, value: Any) -> Expected:
        return Expected(name, pytypes.literal(self.state_fields[name].spec, _scalar(value)))

    # Rule example ---------------------------------------------------------------------------

    def _overdraft(self) -> tuple[CommandView, str, str] | None:
        """A command whose event subtracts one of its fields from a state number."""
        for command in self.aggregate.commands:
            for event in command.emits:
                for change in event.spec.apply.projection.changes:
                    value = change.value
                    if (
                        change.operation is Operation.SUBTRACT
                        and isinstance(value, EventFieldRef)
                        and value.name in command.spec.fields
                    ):
                        return command, value.name, change.target
        return None

    def _first_changing_command(self) -> CommandView:
        return next(
            (c for c in self.aggregate.commands if not c.spec.create), self.aggregate.commands[0]
        )


def _number_within(spec: FieldSpec, preferred: int) -> Any:
    """`preferred`, moved inside the field's bounds, as a value of the field's type."""
    step = Decimal(1) if spec.type == "integer" else Decimal("0.5")
    ge, gt, le, lt = (
        None if b is None else Decimal(str(b)) for b in (spec.ge, spec.gt, spec.le, spec.lt)
    )
    low = ge if ge is not None else (gt + step if gt is not None else None)
    high = le if le is not None else (lt - step if lt is not None else None)
    value = Decimal(preferred)
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    if spec.type == "integer":
        return math.ceil(value)
    if spec.type == "float":
        return float(value)
    return Decimal(str(value))


def _choices(spec: FieldSpec) -> list[Any]:
    if spec.type == "enum":
        return list(spec.values or [])
    if spec.type == "boolean":
        return [True, False]
    return []


def _value(spec: FieldSpec, scalar: Any) -> Any:
    """A spec scalar (as YAML gives it) as the Python value of the field's type."""
    if scalar is None:
        return None
    kind = spec.type
    if kind == "decimal":
        return Decimal(str(scalar))
    if kind == "float":
        return float(scalar)
    if kind == "integer":
        return int(scalar)
    if kind in ("uuid", "ref"):
        return uuid.UUID(str(scalar))
    if kind == "date":
        return dt.date.fromisoformat(str(scalar))
    if kind == "datetime":
        moment = dt.datetime.fromisoformat(str(scalar))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return scalar


def _convert(value: Any, source: FieldSpec, target: FieldSpec) -> Any:
    """What `pytypes.convert` does in generated code, done here on a sample value."""
    if value is None:
        return None
    pair = (source.type, target.type)
    if pair in (("integer", "decimal"), ("float", "decimal")):
        return Decimal(str(value))
    if pair in (("integer", "float"), ("decimal", "float")):
        return float(value)
    return value


def _scalar(value: Any) -> Any:
    """A Python value back in the scalar form `pytypes.literal` reads."""
    if isinstance(value, dt.date | uuid.UUID):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value
