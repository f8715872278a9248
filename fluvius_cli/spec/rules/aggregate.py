"""The rules inside one aggregate: its class names, commands and their guards, events and their
projections, policies."""

from __future__ import annotations

from typing import Any, ClassVar

from fluvius.domain.rules import (
    Comparison,
    EventFieldRef,
    FieldRef,
    Literal,
    MetadataRef,
    Operand,
    Requirement,
)
from fluvius_cli.spec import names
from fluvius_cli.spec.diagnostics import Code
from fluvius_cli.spec.document import Path
from fluvius_cli.spec.language import written
from fluvius_cli.spec.model import READ_ACTION, AggregateSpec, CommandSpec, EventSpec, FieldSpec
from fluvius_cli.spec.rules.fields import check_fields
from fluvius_cli.spec.rules.part import PartChecker
from fluvius_cli.spec.suggest import closest
from fluvius_cli.spec.values import (
    ORDERED_TYPES,
    compare_problem,
    flow_problem,
    shown,
    value_problem,
)


class AggregateChecker(PartChecker[AggregateSpec]):
    """The rules inside one aggregate: fields, commands, events, policies."""

    kind: ClassVar[str] = "aggregates"
    owner: ClassVar[str] = "a state field of"
    state: ClassVar[bool] = True

    def check_own(self) -> None:
        self.class_names()
        for command_name, command in self.spec.commands.items():
            self.command(command_name, command)
        for event_name, event in self.spec.events.items():
            self.event(event_name, event)
        commands_dropped = not self.checker.missing((*self.path, "commands"))
        commands_dropped = commands_dropped or any(
            not self.checker.missing((*self.path, "commands", name))
            for name in self._declared("commands")
        )
        creatable = any(command.create for command in self.spec.commands.values())
        if not creatable and not commands_dropped:
            self.report(
                self.path,
                Code.NO_CREATE_COMMAND,
                f"no command of aggregate '{self.domain}.{self.name}' has `create: true`, "
                "so none can be created",
                key=True,
            )

    def _declared(self, kind: str) -> list[str]:
        """Names under `kind` in the document, including those dropped for their own errors."""
        node: Any = self.checker.document.data
        for step in (*self.path, kind):
            node = node.get(step) if isinstance(node, dict) else None
        return list(node) if isinstance(node, dict) else []

    def class_names(self) -> None:
        """Commands and events become classes beside the aggregate's own: none may collide."""
        base = names.pascal(self.name)
        taken = {
            base: "the aggregate's class",
            f"{base}State": "the aggregate's state class",
            f"{base}Base": "the aggregate's base class",
        }
        for kind in ("commands", "events"):
            for name in getattr(self.spec, kind):
                path = (*self.path, kind, name)
                self.checker.name_form(path, names.KEBAB, "kebab-case")
                problem = names.identifier_problem(name)
                if kind == "commands" and names.snake(name) in names.AGGREGATE_ATTRIBUTES:
                    problem = "is an attribute of the runtime's Aggregate class"
                self.checker.reserved(path, problem)
                class_name = names.pascal(name)
                if class_name in taken:
                    self.report(
                        path,
                        Code.NAME_COLLISION,
                        f"'{name}' becomes the class {class_name}, "
                        f"which is already {taken[class_name]}",
                        key=True,
                    )
                else:
                    taken[class_name] = f"{kind[:-1]} '{name}'"

    # Commands ------------------------------------------------------------------------------

    def command(self, name: str, command: CommandSpec) -> None:
        path = (*self.path, "commands", name)
        check_fields(self.checker, (*path, "fields"), command.fields, state=False)
        if not command.emits:
            self.report(
                (*path, "emits"), Code.NO_EVENTS_EMITTED, f"command '{name}' must emit an event"
            )
        for index, event_name in enumerate(command.emits):
            self.emitted((*path, "emits", index), name, command, event_name)
        if command.create and command.requires:
            self.report(
                (*path, "requires"),
                Code.GUARD_ON_CREATE,
                f"command '{name}' creates the aggregate, so it has no state to require",
                key=True,
            )
        for located in command.guards:
            self.guard((*path, *located.place), name, command, located.rule)

    def emitted(self, path: Path, command_name: str, command: CommandSpec, event_name: str) -> None:
        event = self.spec.events.get(event_name)
        if event is None:
            if self.checker.missing((*self.path, "events", event_name)):
                self.report(
                    path,
                    Code.UNKNOWN_EVENT,
                    f"command '{command_name}' emits '{event_name}', which is not an event of "
                    f"{self.domain}.{self.name}",
                    closest(event_name, self.spec.events),
                )
            return
        for field_name, target in event.fields.items():
            source = command.fields.get(field_name)
            if source is None:
                dropped = not self.checker.missing(
                    (*self.path, "commands", command_name, "fields", field_name)
                )
                if not target.has_default and not dropped:
                    self.report(
                        path,
                        Code.UNSOURCED_EVENT_FIELD,
                        f"event '{event_name}' needs field '{field_name}', but command "
                        f"'{command_name}' has no such field and the event field has no default",
                    )
            elif problem := flow_problem(source, target):
                self.report(
                    path,
                    Code.TYPE_MISMATCH,
                    f"command field '{field_name}' cannot fill the event's field: {problem}",
                )

    def guard(self, path: Path, name: str, command: CommandSpec, requirement: Requirement) -> None:
        field_name, comparison = requirement.field, requirement.comparison
        spec = self.state_field(path, field_name)
        if spec is None:
            return
        guard = command.requires[field_name]
        written_as = dict(guard).get(comparison.value) if isinstance(guard, dict) else None
        if problem := _comparison_problem(spec, requirement, written_as):
            self.report(path, Code.BAD_COMPARISON, f"requires {field_name} {problem}")
            return
        for index, operand in enumerate(requirement.operands):
            where = (*path, index) if len(requirement.operands) > 1 else path
            if isinstance(operand, Literal):
                if problem := value_problem(spec, operand.value):
                    shown_value = shown(written(operand))
                    self.report(
                        where,
                        Code.TYPE_MISMATCH,
                        f"requires {field_name} {comparison} {shown_value}, which {problem}",
                    )
                continue
            other = self.operand_field(where, name, command, operand)
            if other is not None and (problem := compare_problem(spec, other)):
                self.report(
                    where,
                    Code.INCOMPARABLE,
                    f"requires {field_name} {comparison} {_named(operand)}, but {problem}",
                )

    def operand_field(
        self, path: Path, name: str, command: CommandSpec, operand: EventFieldRef | FieldRef
    ) -> FieldSpec | None:
        """The field a guard's operand reads: the command's (`$name`) or the state's."""
        if isinstance(operand, FieldRef):
            return self.state_field(path, operand.name, key=False)
        return self.payload_field(
            path, operand.name, command.fields, Code.UNKNOWN_COMMAND_FIELD, f"command '{name}'"
        )

    # Events --------------------------------------------------------------------------------

    def event(self, name: str, event: EventSpec) -> None:
        path = (*self.path, "events", name)
        check_fields(self.checker, (*path, "fields"), event.fields, state=False)

        def source(where: Path, value: Operand | MetadataRef, target: FieldSpec | None) -> None:
            if isinstance(value, EventFieldRef):
                self.reference(where, name, event, value.name, target)

        self.changes(path, event.apply.rules, f"event '{name}'", source, whole=(*path, "apply"))

    def reference(
        self, path: Path, event_name: str, event: EventSpec, ref: str, target: FieldSpec | None
    ) -> None:
        source = self.payload_field(
            path,
            ref,
            event.fields,
            Code.UNKNOWN_EVENT_FIELD,
            f"event '{event_name}'",
            reported=self.checker.missing((*self.path, "events", event_name, "fields", ref)),
        )
        if source is not None and target is not None and (problem := flow_problem(source, target)):
            self.report(
                path, Code.TYPE_MISMATCH, f"'${ref}' cannot be stored in '{path[-1]}': {problem}"
            )

    # Policies ------------------------------------------------------------------------------

    def action(self, path: Path, role: str, action: str, repeated: bool) -> None:
        actions = [READ_ACTION, *self.spec.commands]
        if repeated:
            self.report(path, Code.INVALID_VALUE, f"'{action}' is listed twice")
        elif action not in actions and self.checker.missing((*self.path, "commands", action)):
            self.report(
                path,
                Code.UNKNOWN_COMMAND,
                f"role '{role}' is allowed '{action}', which is neither `read` nor a command "
                f"of {self.domain}.{self.name}",
                closest(action, actions),
            )


def _comparison_problem(spec: FieldSpec, requirement: Requirement, written_as: Any) -> str | None:
    """Why a comparison does not suit its field or its operands, or None.

    `written_as` is the comparison's operand as the spec writes it; None for a plain guard.
    """
    listed = isinstance(written_as, list)
    comparison = requirement.comparison
    if comparison.ordering and spec.type not in ORDERED_TYPES:
        return f"{comparison}: {spec.type} values have no order; compare numbers or dates"
    if comparison is Comparison.IN:
        literals = all(isinstance(operand, Literal) for operand in requirement.operands)
        return None if listed and literals else "in: takes a list of values"
    if listed:
        return f"{comparison}: takes one value; `in` takes a list"
    return None


def _named(operand: EventFieldRef | FieldRef) -> str:
    """An operand as the spec writes it."""
    return (
        f"${operand.name}" if isinstance(operand, EventFieldRef) else f"{{field: {operand.name}}}"
    )
