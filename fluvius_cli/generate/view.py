"""The spec seen from the templates: names, annotations, columns and code fragments, precomputed.

Templates only place what these views compute, so that every decision about generated code is
made (and tested) in Python.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from fluvius.casbin.permission import READ
from fluvius.domain.rules import (
    Change,
    EventFieldRef,
    FieldRef,
    MetadataRef,
    Operation,
)
from fluvius_cli.generate import pytypes, rule_code
from fluvius_cli.generate.event_versions import EventVersions
from fluvius_cli.generate.imports import Code, Import, Imports, code, joined
from fluvius_cli.spec.model import (
    AggregateSpec,
    CommandSpec,
    DomainSpec,
    EventSpec,
    FieldSpec,
    Spec,
    ViewSpec,
    WorkerSpec,
)
from fluvius_cli.spec.names import pascal, snake
from fluvius_cli.spec.streams import resolve

T = TypeVar("T", bound=AggregateSpec | ViewSpec)
M = TypeVar("M", bound=CommandSpec | EventSpec)


@dataclass(frozen=True)
class FieldView:
    """One field of a state, command or event.

    `limit` is the length limit inherited from the state fields the value ends up in.
    """

    name: str
    spec: FieldSpec
    role: pytypes.Role
    limit: int | None = None

    @property
    def max_length(self) -> int | None:
        """The most characters the field accepts, inherited limits included."""
        if self.spec.type not in ("string", "text"):
            return None
        own = pytypes.string_length(self.spec)
        if self.limit is None:
            return own
        return self.limit if own is None else min(own, self.limit)

    @property
    def optional(self) -> bool:
        """Whether None is a value of the field."""
        if self.spec.has_default:
            return self.spec.default is None
        return self.role == "state"

    @property
    def annotation(self) -> Code:
        """The field's type; a payload field's numeric bounds are part of it (pytypes.bounded)."""
        base = pytypes.annotation(self.spec, self.role)
        if self.role != "state":
            base = pytypes.bounded(self.spec, base)
        return base + " | None" if self.optional else base

    @property
    def constraints(self) -> list[str]:
        """pydantic Field arguments of a payload field (state fields are derived, not checked)."""
        if self.role == "state" or self.max_length is None:
            return []
        return [f"max_length={self.max_length}"]

    @property
    def default(self) -> Code | None:
        if self.spec.has_default:
            return pytypes.literal(self.spec, self.spec.default)
        return code("None") if self.optional else None

    @property
    def declaration(self) -> Code:
        """`name: annotation = default` as a model attribute."""
        declared = f"{self.name}: " + self.annotation
        if self.constraints:
            arguments = [self.default] if self.default is not None else []
            field = joined(", ", [*arguments, *(code(c) for c in self.constraints)])
            return declared + " = " + code("Field(", Import("pydantic", "Field")) + field + ")"
        if self.default is not None:
            return declared + " = " + self.default
        return declared

    @property
    def column(self) -> Code:
        """The `Column(...)` of a state field."""
        arguments = [code(f'"{self.name}"'), pytypes.column_type(self.spec, self.name)]
        if not self.optional:
            arguments.append(code("nullable=False"))
        if self.spec.index:
            arguments.append(code("index=True"))
        if (default := pytypes.server_default(self.spec)) is not None:
            arguments.append("server_default=" + default)
        return code("Column(", Import("sqlalchemy", "Column")) + joined(", ", arguments) + ")"


@dataclass(frozen=True)
class MessageView(Generic[M]):
    """What a command and an event share: a class named after them, and a payload of fields."""

    name: str
    spec: M
    aggregate: AggregateView
    role: ClassVar[pytypes.Role]
    kind: ClassVar[str]

    @property
    def class_name(self) -> str:
        return pascal(self.name)

    @functools.cached_property
    def fields(self) -> list[FieldView]:
        return [
            FieldView(name, spec, self.role, self._limit(name))
            for name, spec in self.spec.fields.items()
        ]

    def _limit(self, name: str) -> int | None:
        """The tightest length limit inherited by the field `name`."""
        raise NotImplementedError

    def imports(self) -> set[Import]:
        """What the message's class needs: its base class, and its fields' types."""
        needed = {Import("fluvius.domain", self.kind)}
        for field in self.fields:
            needed |= field.declaration.imports
        return needed


@dataclass(frozen=True)
class EventView(MessageView[EventSpec]):
    """An event: its model, and its projection onto the state."""

    role: ClassVar[pytypes.Role] = "event"
    kind: ClassVar[str] = "Event"

    @property
    def method(self) -> str:
        return f"apply_{snake(self.name)}"

    @property
    def version(self) -> int:
        """The schema version of the event's data."""
        return self.aggregate.domain.project.versions.version(
            self.aggregate.qualified_name, self.name
        )

    @property
    def declaration(self) -> str:
        """The class keywords: `name="money-deposited"`, and `version=N` past the first."""
        keywords = f'name="{self.name}"'
        return keywords if self.version == 1 else f"{keywords}, version={self.version}"

    def field(self, name: str) -> FieldView:
        return next(field for field in self.fields if field.name == name)

    def _limit(self, name: str) -> int | None:
        """The tightest length limit of the state fields that `$name` is stored in."""
        state = self.aggregate.spec.fields
        limits = [
            length
            for change in self.spec.apply.projection.changes
            if change.operation is Operation.SET
            and change.value == EventFieldRef(name)
            and (length := pytypes.string_length(state[change.target])) is not None
        ]
        return min(limits, default=None)

    @functools.cached_property
    def changes(self) -> list[tuple[str, Code]]:
        """(state field, Python expression) for each change the event makes to the state."""
        found = []
        for change in self.spec.apply.projection.changes:
            name = change.target
            target = self.aggregate.spec.fields[name]
            expression = self._value(change, target)
            if change.operation is not Operation.SET:
                current = code(f"self.state.{name}")
                if FieldView(name, target, "state").optional:
                    current = "(" + current + " or " + pytypes.literal(target, 0) + ")"
                sign = " + " if change.operation is Operation.ADD else " - "
                expression = current + sign + expression
            found.append((name, expression))
        return found

    def _value(self, change: Change, target: FieldSpec) -> Code:
        value = change.value
        if isinstance(value, EventFieldRef):
            source = self.spec.fields[value.name]
            return pytypes.convert(f"event.{value.name}", source, target)
        if isinstance(value, FieldRef):
            return code(f"self.state.{value.name}")
        if isinstance(value, MetadataRef):
            raise ValueError(f"an aggregate's apply cannot read metadata (@{value.name})")
        return pytypes.literal(target, value.value)

    def imports(self) -> set[Import]:
        needed = super().imports()
        for _, expression in self.changes:
            needed |= expression.imports
        return needed


@dataclass(frozen=True)
class CommandView(MessageView[CommandSpec]):
    """A command: its payload model, guards, and the events it emits by default."""

    role: ClassVar[pytypes.Role] = "command"
    kind: ClassVar[str] = "Command"

    @property
    def method(self) -> str:
        return snake(self.name)

    def _limit(self, name: str) -> int | None:
        """The tightest length limit of the event fields this field fills."""
        limits = [
            length
            for event in self.emits
            if name in event.spec.fields and (length := event.field(name).max_length) is not None
        ]
        return min(limits, default=None)

    @property
    def emits(self) -> list[EventView]:
        return [self.aggregate.event(name) for name in self.spec.emits]

    @property
    def requires(self) -> Code | None:
        """The `requires=` argument of the handler's decorator: the guards as rule objects."""
        fields = self.aggregate.spec.fields
        guards = [
            rule_code.requirement(located.rule, fields[located.rule.field])
            for located in self.spec.guards
        ]
        return "[" + joined(", ", guards) + "]" if guards else None

    @property
    def ref_targets(self) -> list[tuple[str, AggregateView]]:
        """The payload's `ref` fields, each with the aggregate it refers to."""
        project = self.aggregate.domain.project
        return [
            (name, project.aggregate(spec.to))
            for name, spec in self.spec.fields.items()
            if spec.type == "ref" and spec.to is not None
        ]

    @property
    def refs(self) -> Code | None:
        """The `refs=` argument of the handler's decorator: what each ref field refers to."""
        entries = [
            code(f'"{name}": Ref("{target.qualified_name}")', Import("fluvius.domain", "Ref"))
            for name, target in self.ref_targets
        ]
        return "{" + joined(", ", entries) + "}" if entries else None

    @property
    def files(self) -> Code | None:
        """The `files=` argument of the handler's decorator: what each file field accepts."""
        entries = [
            f'"{name}": ' + pytypes.file_rule(spec)
            for name, spec in self.spec.fields.items()
            if spec.type == "file"
        ]
        return "{" + joined(", ", entries) + "}" if entries else None

    @property
    def decorator(self) -> Code:
        arguments = [code(self.class_name)]
        if self.spec.create:
            arguments.append(code("create=True"))
        if self.requires:
            arguments.append("requires=" + self.requires)
        if self.refs:
            arguments.append("refs=" + self.refs)
        if self.files:
            arguments.append("files=" + self.files)
        return (
            code("@handles(", Import("fluvius.domain", "handles")) + joined(", ", arguments) + ")"
        )

    @property
    def default_events(self) -> list[Code]:
        """The constructor call of each emitted event, filled from the command's fields."""
        calls = []
        for event in self.emits:
            arguments = [
                f"{field.name}=" + self._source(field)
                for field in event.fields
                if field.name in self.spec.fields
            ]
            calls.append(f"{event.class_name}(" + joined(", ", arguments) + ")")
        return calls

    def _source(self, field: FieldView) -> Code:
        return pytypes.convert(f"command.{field.name}", self.spec.fields[field.name], field.spec)

    def imports(self) -> set[Import]:
        needed = super().imports()
        needed |= self.decorator.imports
        for call in self.default_events:
            needed |= call.imports
        return needed


@dataclass(frozen=True)
class PermissionView:
    """One policy row."""

    role: str
    resource: str
    action: str
    scope: str | None


@dataclass(frozen=True)
class TableView(Generic[T]):
    """What an aggregate and a view share: fields kept in a table of the domain, and the
    policy rows that grant them."""

    name: str
    spec: T
    domain: DomainView

    @property
    def qualified_name(self) -> str:
        return f"{self.domain.name}.{self.name}"

    @property
    def table_name(self) -> str:
        return f"{self.domain.name}_{self.name}"

    @functools.cached_property
    def fields(self) -> list[FieldView]:
        return [FieldView(name, spec, "state") for name, spec in self.spec.fields.items()]

    @property
    def permissions(self) -> list[PermissionView]:
        return [
            PermissionView(role, self.qualified_name, action, policy.scope)
            for role, policy in self.spec.policies.items()
            for action in policy.allow
        ]


@dataclass(frozen=True)
class AggregateView(TableView[AggregateSpec]):
    """An aggregate: state, commands, events, policies."""

    @property
    def class_name(self) -> str:
        return pascal(self.name)

    @property
    def state_class(self) -> str:
        return f"{self.class_name}State"

    @property
    def base_class(self) -> str:
        return f"{self.class_name}Base"

    @property
    def table_variable(self) -> str:
        return f"{self.name}_table"

    @property
    def module(self) -> str:
        return self.name

    @functools.cached_property
    def commands(self) -> list[CommandView]:
        return [CommandView(name, spec, self) for name, spec in self.spec.commands.items()]

    @functools.cached_property
    def events(self) -> list[EventView]:
        return [EventView(name, spec, self) for name, spec in self.spec.events.items()]

    def event(self, name: str) -> EventView:
        return next(event for event in self.events if event.name == name)

    def command(self, name: str) -> CommandView:
        return next(command for command in self.commands if command.name == name)

    @property
    def actions(self) -> list[str]:
        """Everything a policy can allow on the aggregate: its commands, and `read`."""
        return [*(command.name for command in self.commands), READ]

    def model_imports(self) -> Imports:
        imports = Imports(
            Import("fluvius.domain", name)
            for name in ("Aggregate", "Event", "State", "applies", "handles")
        )
        imports.update([Import("typing", "cast"), self.domain.project.services_import])
        for field in self.fields:
            imports.update(field.declaration.imports)
        for command in self.commands:
            imports.update(command.imports())
        for event in self.events:
            imports.update(event.imports())
        return imports


@dataclass(frozen=True)
class WorkerView:
    """A worker and the function that runs it."""

    name: str
    spec: WorkerSpec
    domain: DomainView

    @property
    def function(self) -> str:
        return snake(self.name)

    @property
    def event(self) -> EventView | None:
        """The event that triggers the worker, for event workers."""
        if self.spec.on is None:
            return None
        aggregate_name, _, event_name = self.spec.on.rpartition(".")
        for aggregate in self.domain.aggregates:
            if aggregate_name in ("", aggregate.name) and event_name in aggregate.spec.events:
                return aggregate.event(event_name)
        raise LookupError(self.spec.on)


@dataclass(frozen=True)
class DomainView:
    """A domain: its aggregates and workers."""

    name: str
    spec: DomainSpec
    project: ProjectView

    @functools.cached_property
    def aggregates(self) -> list[AggregateView]:
        return [AggregateView(name, spec, self) for name, spec in self.spec.aggregates.items()]

    @functools.cached_property
    def workers(self) -> list[WorkerView]:
        return [WorkerView(name, spec, self) for name, spec in self.spec.workers.items()]

    @property
    def event_workers(self) -> list[WorkerView]:
        return [worker for worker in self.workers if worker.spec.on is not None]

    @property
    def cron_workers(self) -> list[WorkerView]:
        return [worker for worker in self.workers if worker.spec.cron is not None]

    @property
    def constant(self) -> str:
        return self.name.upper()

    @property
    def tables_alias(self) -> str:
        """The name of its table module where other domains' modules import it."""
        return f"{self.name}_tables"


@dataclass(frozen=True)
class ProjectView:
    """The whole service; `versions` holds the schema versions of its events."""

    spec: Spec
    versions: EventVersions = dataclasses.field(default_factory=lambda: EventVersions({}))

    @property
    def package(self) -> str:
        return self.spec.project.name

    @property
    def tenancy(self) -> bool:
        return self.spec.project.tenancy

    @property
    def services_import(self) -> Import:
        """The class of the service's dependencies, in the user's `<package>/services.py`."""
        return Import(f"{self.package}.services", "Services")

    @functools.cached_property
    def domains(self) -> list[DomainView]:
        return [DomainView(name, spec, self) for name, spec in self.spec.domains.items()]

    def aggregate(self, qualified_name: str) -> AggregateView:
        """The aggregate called `domain.aggregate`."""
        domain, _, name = qualified_name.partition(".")
        return next(
            aggregate
            for view in self.domains
            if view.name == domain
            for aggregate in view.aggregates
            if aggregate.name == name
        )

    @property
    def streams(self) -> list[tuple[str, list[str], str]]:
        """Each stream: its name, its events as `domain.aggregate.event`, its description."""
        return [
            (
                name,
                [
                    f"{e.domain}.{e.aggregate}.{e.event}"
                    for e in (resolve(self.spec.domains, ref) for ref in stream.events)
                ],
                stream.description or "",
            )
            for name, stream in self.spec.streams.items()
        ]

    @property
    def schema_exports(self) -> list[str]:
        """What the schema module exports: the metadata, and each domain's table module."""
        return sorted(["metadata", *(domain.tables_alias for domain in self.domains)])
