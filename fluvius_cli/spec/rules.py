"""The rules across parts of a spec: names, references, types of values and projections."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from fluvius.cron import CronError, parse_cron
from fluvius.domain.files import content_type_problem, parse_size
from fluvius.domain.rules import (
    EVENT_METADATA,
    Change,
    Comparison,
    EventFieldRef,
    FieldRef,
    Literal,
    MetadataRef,
    Operand,
    Operation,
    Requirement,
)
from fluvius_cli.spec import names
from fluvius_cli.spec.diagnostics import Code, Diagnostic
from fluvius_cli.spec.document import Document, Path
from fluvius_cli.spec.language import written
from fluvius_cli.spec.model import (
    NUMERIC_TYPES,
    PUBLIC_ROLE,
    READ_ACTION,
    TEXT_TYPES,
    AggregateSpec,
    CommandSpec,
    DomainSpec,
    EventSpec,
    FieldSpec,
    StreamSpec,
    ViewRuleSpec,
    ViewSpec,
)
from fluvius_cli.spec.streams import StreamEvent, UnresolvedEvent, resolve, resolve_from
from fluvius_cli.spec.structure import describe
from fluvius_cli.spec.suggest import closest
from fluvius_cli.spec.values import (
    ORDERED_TYPES,
    amount_problem,
    compare_problem,
    flow_problem,
    shown,
    value_problem,
)

SCOPE_TYPES = frozenset({"string", "text", "uuid", "ref"})
UNINDEXED_TYPES = frozenset({"json", "file"})


def check_rules(
    document: Document,
    project_name: str | None,
    domains: Mapping[str, DomainSpec],
    dropped: Iterable[Path] = (),
    streams: Mapping[str, StreamSpec] = {},
) -> list[Diagnostic]:
    """Every rule violation in the validated parts of the spec."""
    checker = _Checker(document, domains, set(dropped))
    if project_name is not None:
        checker.project(project_name)
    checker.names_unique(("domains",), list(domains))
    for domain_name, domain in domains.items():
        checker.domain(domain_name, domain)
    checker.table_names()
    for stream_name, stream in streams.items():
        checker.stream(stream_name, stream)
    return checker.diagnostics


class _Checker:
    def __init__(self, document: Document, domains: Mapping[str, DomainSpec], dropped: set[Path]):
        self.document = document
        self.domains = domains
        self.dropped = dropped
        self.diagnostics: list[Diagnostic] = []

    # Reporting -----------------------------------------------------------------------------

    def report(
        self,
        path: Path,
        code: Code,
        message: str,
        suggestion: str | None = None,
        *,
        key: bool = False,
    ) -> None:
        position = self.document.key_at(path) if key else self.document.value_at(path)
        self.diagnostics.append(Diagnostic(position, code, message, suggestion))

    def missing(self, path: Path) -> bool:
        """True unless the declaration at `path`, or one holding it, was dropped for its errors."""
        return not any(path[: len(dropped)] == dropped for dropped in self.dropped)

    # Names ---------------------------------------------------------------------------------

    def name_form(self, path: Path, form: Any, form_name: str) -> bool:
        name = str(path[-1])
        if not form.fullmatch(name):
            self.report(
                path, Code.BAD_NAME, f"{describe(path)}: the name must be {form_name}", key=True
            )
            return False
        if len(name) > names.MAX_LENGTH:
            self.report(
                path,
                Code.BAD_NAME,
                f"{describe(path)}: the name is longer than {names.MAX_LENGTH} characters",
                key=True,
            )
            return False
        return True

    def module_name(self, path: Path) -> None:
        """An aggregate's or view's name: snake_case, and free to name its module and table."""
        if not self.name_form(path, names.SNAKE, "snake_case"):
            return
        name = str(path[-1])
        problem = names.identifier_problem(name) or names.DOMAIN_MODULES.get(name)
        if problem is None and name in names.LOG_TABLES:
            problem = f"would name the table of the domain's {name} log"
        self.reserved(path, problem)

    def reserved(self, path: Path, problem: str | None) -> None:
        if problem is not None:
            self.report(path, Code.RESERVED_NAME, f"'{path[-1]}' {problem}", key=True)

    def names_unique(
        self, parent: Path, declared: Iterable[str], taken: Mapping[str, str] = {}
    ) -> None:
        """Report names under `parent` that collide once normalised, or with `taken` identifiers."""
        seen = {names.normalised(identity): owner for identity, owner in taken.items()}
        for name in declared:
            identity = names.normalised(name)
            if identity in seen:
                self.report(
                    (*parent, name),
                    Code.NAME_COLLISION,
                    f"'{name}' collides with {seen[identity]}: names may not differ only in "
                    "case or in '-' against '_'",
                    key=True,
                )
            else:
                seen[identity] = f"'{name}'"

    # Project and domains -------------------------------------------------------------------

    def project(self, name: str) -> None:
        path: Path = ("project", "name")
        if not names.SNAKE.fullmatch(name):
            self.report(
                path, Code.BAD_NAME, "the project name must be snake_case (a Python package)"
            )
        elif problem := names.project_name_problem(name):
            self.report(path, Code.RESERVED_NAME, f"project name '{name}' {problem}")

    def domain(self, name: str, domain: DomainSpec) -> None:
        path: Path = ("domains", name)
        if self.name_form(path, names.SNAKE, "snake_case"):
            problem = names.identifier_problem(name)
            if problem is None and name in names.DOMAIN_NAMES:
                problem = names.DOMAIN_NAMES[name]
            self.reserved(path, problem)
        self.names_unique((*path, "aggregates"), list(domain.aggregates))
        for aggregate_name, aggregate in domain.aggregates.items():
            _AggregateChecker(self, name, aggregate_name, aggregate).check()
        self.names_unique((*path, "views"), list(domain.views))
        for view_name, view in domain.views.items():
            _ViewChecker(self, name, view_name, view).check()
        self.names_unique((*path, "workers"), list(domain.workers))
        for worker_name in domain.workers:
            self.worker(name, domain, worker_name)

    def worker(self, domain_name: str, domain: DomainSpec, worker_name: str) -> None:
        path: Path = ("domains", domain_name, "workers", worker_name)
        worker = domain.workers[worker_name]
        if self.name_form(path, names.KEBAB, "kebab-case"):
            self.reserved(path, names.identifier_problem(worker_name))
        if (worker.on is None) == (worker.cron is None):
            self.report(
                path,
                Code.WORKER_TRIGGER,
                f"{describe(path)} needs exactly one of `on` (an event) and `cron` (a schedule)",
            )
        if worker.on is not None:
            self.worker_event((*path, "on"), domain_name, domain, worker.on)
        if worker.cron is not None:
            try:
                parse_cron(worker.cron)
            except CronError as exc:
                self.report((*path, "cron"), Code.BAD_CRON, f"cron '{worker.cron}': {exc}")

    def worker_event(self, path: Path, domain_name: str, domain: DomainSpec, event: str) -> None:
        aggregate_name, dot, event_name = event.rpartition(".")
        if dot:
            aggregate = domain.aggregates.get(aggregate_name)
            if aggregate is None:
                if self.missing(("domains", domain_name, "aggregates", aggregate_name)):
                    self.report(
                        path,
                        Code.UNKNOWN_AGGREGATE,
                        f"'{aggregate_name}' is not an aggregate of domain '{domain_name}'",
                        closest(aggregate_name, domain.aggregates),
                    )
                return
            owners = [aggregate_name] if event_name in aggregate.events else []
            candidates: list[str] = list(aggregate.events)
        else:
            owners = [a for a, spec in domain.aggregates.items() if event in spec.events]
            candidates = [e for spec in domain.aggregates.values() for e in spec.events]
        if len(owners) > 1:
            qualified = ", ".join(f"{owner}.{event}" for owner in owners)
            self.report(
                path,
                Code.AMBIGUOUS_EVENT,
                f"event '{event}' is declared by several aggregates; name one of: {qualified}",
            )
        elif not owners and not self.events_dropped(domain_name):
            self.report(
                path,
                Code.UNKNOWN_EVENT,
                f"'{event}' is not an event of domain '{domain_name}'",
                closest(event_name, candidates),
            )

    def stream(self, name: str, stream: StreamSpec) -> None:
        """A stream's name fits a setting and a subject; it lists declared events, once each."""
        path: Path = ("streams", name)
        self.name_form(path, names.SNAKE, "snake_case")
        seen: set[StreamEvent] = set()
        for index, reference in enumerate(stream.events):
            event_path = (*path, "events", index)
            try:
                event = resolve(self.domains, reference)
            except UnresolvedEvent as exc:
                code = Code.AMBIGUOUS_EVENT if exc.ambiguous else Code.UNKNOWN_EVENT
                self.report(event_path, code, str(exc), exc.suggestion)
                continue
            if event in seen:
                self.report(event_path, Code.INVALID_VALUE, f"'{reference}' is listed twice")
            seen.add(event)

    def table_names(self) -> None:
        """Each aggregate's state table, `<domain>_<aggregate>`, must have a name of its own."""
        owners: dict[str, str] = {}
        for domain_name, domain in self.domains.items():
            declared = [("aggregates", name) for name in domain.aggregates]
            declared += [("views", name) for name in domain.views]
            for kind, aggregate_name in declared:
                table = names.normalised(f"{domain_name}_{aggregate_name}")
                qualified = f"{kind[:-1]} '{domain_name}.{aggregate_name}'"
                if table in owners:
                    self.report(
                        ("domains", domain_name, kind, aggregate_name),
                        Code.NAME_COLLISION,
                        f"{qualified} would share the table {table} with {owners[table]}",
                        key=True,
                    )
                else:
                    owners[table] = qualified

    def events_dropped(self, domain_name: str) -> bool:
        """True when an event or aggregate of the domain was dropped for its own errors."""
        prefix: Path = ("domains", domain_name)
        return any(
            path[:2] == prefix and (len(path) == 4 or (len(path) in (5, 6) and path[4] == "events"))
            for path in self.dropped
        )

    def aggregate_exists(self, qualified: str) -> bool:
        """True when `domain.aggregate` is declared (or was, before its own errors dropped it)."""
        domain_name, _, aggregate_name = qualified.partition(".")
        domain = self.domains.get(domain_name)
        if domain is not None and aggregate_name in domain.aggregates:
            return True
        domain_path: Path = ("domains", domain_name)
        return not self.missing(domain_path) or not self.missing(
            (*domain_path, "aggregates", aggregate_name)
        )

    def qualified_aggregates(self) -> list[str]:
        return [f"{d}.{a}" for d, domain in self.domains.items() for a in domain.aggregates]


class _AggregateChecker:
    """The rules inside one aggregate: fields, commands, events, policies."""

    def __init__(self, checker: _Checker, domain: str, name: str, aggregate: AggregateSpec):
        self.checker = checker
        self.report = checker.report
        self.domain = domain
        self.name = name
        self.aggregate = aggregate
        self.path: Path = ("domains", domain, "aggregates", name)

    def check(self) -> None:
        self.checker.module_name(self.path)
        self.fields((*self.path, "fields"), self.aggregate.fields, state=True)
        self.class_names()
        for command_name, command in self.aggregate.commands.items():
            self.command(command_name, command)
        for event_name, event in self.aggregate.events.items():
            self.event(event_name, event)
        self.checker.names_unique((*self.path, "policies"), list(self.aggregate.policies))
        for role in self.aggregate.policies:
            self.policy(role)
        commands_dropped = not self.checker.missing((*self.path, "commands"))
        commands_dropped = commands_dropped or any(
            not self.checker.missing((*self.path, "commands", name))
            for name in self._declared("commands")
        )
        creatable = any(command.create for command in self.aggregate.commands.values())
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
            for name in getattr(self.aggregate, kind):
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

    # Fields --------------------------------------------------------------------------------

    def fields(self, path: Path, fields: Mapping[str, FieldSpec], *, state: bool) -> None:
        self.checker.names_unique(path, list(fields))
        for field_name, spec in fields.items():
            field_path = (*path, field_name)
            if self.checker.name_form(field_path, names.SNAKE, "snake_case"):
                self.checker.reserved(field_path, names.field_name_problem(field_name))
            self.field(field_path, spec, state=state, siblings=fields)

    def field(
        self, path: Path, spec: FieldSpec, *, state: bool, siblings: Mapping[str, FieldSpec]
    ) -> None:
        kind = spec.type
        not_applicable = [
            (
                spec.max_length is not None and kind not in TEXT_TYPES,
                "max_length",
                "string and text",
            ),
            (
                any(b is not None for b in (spec.ge, spec.gt, spec.le, spec.lt))
                and kind not in NUMERIC_TYPES,
                next((k for k in ("ge", "gt", "le", "lt") if getattr(spec, k) is not None), "ge"),
                "numbers",
            ),
            (spec.values is not None and kind != "enum", "values", "enum"),
            (spec.to is not None and kind != "ref", "to", "ref"),
            (spec.index and not state, "index", "state fields"),
            (
                spec.index and kind in UNINDEXED_TYPES,
                "index",
                "fields of any type but json and file",
            ),
            (spec.max_size is not None and kind != "file", "max_size", "file"),
            (spec.content_types is not None and kind != "file", "content_types", "file"),
            (spec.has_default and kind == "file", "default", "fields of any type but file"),
            (spec.renamed_from is not None and not state, "renamed_from", "state fields"),
        ]
        for wrong, key, applies_to in not_applicable:
            if wrong:
                self.report(
                    (*path, key),
                    Code.CONSTRAINT_NOT_APPLICABLE,
                    f"`{key}` applies to {applies_to} only; {describe(path)} is {kind}",
                    key=True,
                )
        if kind == "enum" and spec.values is None:
            self.report(path, Code.MISSING_KEY, f"{describe(path)} is an enum and needs `values`")
        if spec.values is not None and len(set(spec.values)) != len(spec.values):
            self.report((*path, "values"), Code.INVALID_VALUE, "enum values must be distinct")
        if kind == "ref":
            self.ref_target(path, spec)
        if kind == "file":
            self.file_rule(path, spec)
        self.bounds(path, spec)
        if spec.has_default and (problem := value_problem(spec, spec.default)):
            self.report(
                (*path, "default"), Code.BAD_DEFAULT, f"default {shown(spec.default)} {problem}"
            )
        if spec.renamed_from is not None:
            self.renamed(path, spec.renamed_from, siblings)

    def file_rule(self, path: Path, spec: FieldSpec) -> None:
        if spec.max_size is not None:
            try:
                parse_size(spec.max_size)
            except ValueError as error:
                self.report((*path, "max_size"), Code.BAD_SIZE, str(error))
        for index, pattern in enumerate(spec.content_types or []):
            if problem := content_type_problem(pattern):
                self.report((*path, "content_types", index), Code.BAD_CONTENT_TYPE, problem)

    def ref_target(self, path: Path, spec: FieldSpec) -> None:
        if spec.to is None:
            self.report(
                path,
                Code.MISSING_KEY,
                f"{describe(path)} is a ref and needs `to: domain.aggregate`",
            )
        elif not self.checker.aggregate_exists(spec.to):
            self.report(
                (*path, "to"),
                Code.UNKNOWN_AGGREGATE,
                f"'{spec.to}' is not an aggregate (write domain.aggregate)",
                closest(spec.to, self.checker.qualified_aggregates()),
            )

    def bounds(self, path: Path, spec: FieldSpec) -> None:
        if spec.ge is not None and spec.gt is not None:
            self.report(
                (*path, "gt"), Code.CONTRADICTORY_BOUNDS, "use one of `ge` and `gt`, not both"
            )
        if spec.le is not None and spec.lt is not None:
            self.report(
                (*path, "lt"), Code.CONTRADICTORY_BOUNDS, "use one of `le` and `lt`, not both"
            )
        low = spec.ge if spec.ge is not None else spec.gt
        high = spec.le if spec.le is not None else spec.lt
        strict = spec.gt is not None or spec.lt is not None
        if low is not None and high is not None and (low > high or (strict and low == high)):
            self.report(
                path, Code.CONTRADICTORY_BOUNDS, f"no number is within the bounds {low} and {high}"
            )
        elif spec.type == "integer" and not self.whole_number_fits(spec):
            self.report(path, Code.CONTRADICTORY_BOUNDS, "no whole number is within these bounds")

    @staticmethod
    def whole_number_fits(spec: FieldSpec) -> bool:
        low = spec.ge if spec.ge is not None else spec.gt
        high = spec.le if spec.le is not None else spec.lt
        if low is None or high is None:
            return True
        smallest = math.ceil(low) if spec.ge is not None else math.floor(low) + 1
        largest = math.floor(high) if spec.le is not None else math.ceil(high) - 1
        return smallest <= largest

    def renamed(self, path: Path, old: str, siblings: Mapping[str, FieldSpec]) -> None:
        if not names.SNAKE.fullmatch(old):
            self.report(
                (*path, "renamed_from"),
                Code.BAD_NAME,
                "renamed_from must be a snake_case field name",
            )
        elif old in siblings:
            self.report(
                (*path, "renamed_from"),
                Code.NAME_COLLISION,
                f"renamed_from '{old}' is still a field of this aggregate",
            )

    # Commands ------------------------------------------------------------------------------

    def command(self, name: str, command: CommandSpec) -> None:
        path = (*self.path, "commands", name)
        self.fields((*path, "fields"), command.fields, state=False)
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
        event = self.aggregate.events.get(event_name)
        if event is None:
            if self.checker.missing((*self.path, "events", event_name)):
                self.report(
                    path,
                    Code.UNKNOWN_EVENT,
                    f"command '{command_name}' emits '{event_name}', which is not an event of "
                    f"{self.domain}.{self.name}",
                    closest(event_name, self.aggregate.events),
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
        spec = command.fields.get(operand.name)
        if spec is None:
            self.report(
                path,
                Code.UNKNOWN_COMMAND_FIELD,
                f"'${operand.name}' is not a field of command '{name}'",
                closest(operand.name, command.fields),
            )
        return spec

    def state_field(self, path: Path, field_name: str, *, key: bool = True) -> FieldSpec | None:
        """The state field `field_name`; reported as unknown at `path` when not declared."""
        spec = self.aggregate.fields.get(field_name)
        if spec is None and self.checker.missing((*self.path, "fields", field_name)):
            self.report(
                path,
                Code.UNKNOWN_STATE_FIELD,
                f"'{field_name}' is not a state field of {self.domain}.{self.name}",
                closest(field_name, self.aggregate.fields),
                key=key,
            )
        return spec

    # Events --------------------------------------------------------------------------------

    def event(self, name: str, event: EventSpec) -> None:
        path = (*self.path, "events", name)
        self.fields((*path, "fields"), event.fields, state=False)
        rules = event.apply.rules
        for located in rules:
            self.assignment((*path, *located.place), name, event, located.rule)
        targets = [located.rule.target for located in rules]
        for field_name in {f for f in targets if targets.count(f) > 1}:
            self.report(
                (*path, "apply"),
                Code.INVALID_VALUE,
                f"event '{name}' changes '{field_name}' twice; use one of set, add and subtract",
            )

    def assignment(self, path: Path, event_name: str, event: EventSpec, change: Change) -> None:
        field_name, operation = change.target, change.operation
        target = self.state_field(path, field_name)
        if target is not None and operation != Operation.SET and target.type not in NUMERIC_TYPES:
            self.report(
                path,
                Code.NOT_NUMERIC,
                f"cannot {operation} '{field_name}': it is {target.type}, not a number",
                key=True,
            )
            return
        value = change.value
        if isinstance(value, EventFieldRef):
            self.reference(path, event_name, event, value.name, target)
            return
        if target is None or not isinstance(value, Literal):
            return
        if operation == Operation.SET:
            problem = value_problem(target, value.value)
            wording = f"sets '{field_name}' to {shown(written(value))}, which"
        else:
            problem = amount_problem(target, written(value))
            verb = "adds" if operation == Operation.ADD else "subtracts"
            wording = f"{verb} {shown(written(value))}, which"
        if problem:
            self.report(path, Code.TYPE_MISMATCH, f"event '{event_name}' {wording} {problem}")

    def reference(
        self, path: Path, event_name: str, event: EventSpec, ref: str, target: FieldSpec | None
    ) -> None:
        source = event.fields.get(ref)
        if source is None:
            if self.checker.missing((*self.path, "events", event_name, "fields", ref)):
                self.report(
                    path,
                    Code.UNKNOWN_EVENT_FIELD,
                    f"'${ref}' is not a field of event '{event_name}'",
                    closest(ref, event.fields),
                )
        elif target is not None and (problem := flow_problem(source, target)):
            self.report(
                path, Code.TYPE_MISMATCH, f"'${ref}' cannot be stored in '{path[-1]}': {problem}"
            )

    # Policies ------------------------------------------------------------------------------

    def policy(self, role: str) -> None:
        path = (*self.path, "policies", role)
        policy = self.aggregate.policies[role]
        self.checker.name_form(path, names.ROLE, "kebab-case or snake_case")
        actions = [READ_ACTION, *self.aggregate.commands]
        for index, action in enumerate(policy.allow):
            if action in policy.allow[:index]:
                self.report(
                    (*path, "allow", index), Code.INVALID_VALUE, f"'{action}' is listed twice"
                )
                continue
            missing = self.checker.missing((*self.path, "commands", action))
            if action not in actions and missing:
                self.report(
                    (*path, "allow", index),
                    Code.UNKNOWN_COMMAND,
                    f"role '{role}' is allowed '{action}', which is neither `read` nor a command "
                    f"of {self.domain}.{self.name}",
                    closest(action, actions),
                )
        if policy.scope is not None:
            self.scope((*path, "scope"), role, policy.scope)

    def scope(self, path: Path, role: str, field_name: str) -> None:
        if role == PUBLIC_ROLE:
            self.report(
                path, Code.BAD_SCOPE, "the public role has no caller id to scope by", key=True
            )
            return
        spec = self.state_field(path, field_name, key=False)
        if spec is not None and spec.type not in SCOPE_TYPES:
            self.report(
                path,
                Code.BAD_SCOPE,
                f"scope '{field_name}' is {spec.type}; a scope field holds the caller's id "
                f"({', '.join(sorted(SCOPE_TYPES))})",
            )


class _ViewChecker(_AggregateChecker):
    """The rules inside one view: its fields and key, the events that feed it, its policies."""

    def __init__(self, checker: _Checker, domain: str, name: str, view: ViewSpec):
        self.checker = checker
        self.report = checker.report
        self.domain = domain
        self.name = name
        self.view = view
        self.path = ("domains", domain, "views", name)

    def check(self) -> None:
        self.checker.module_name(self.path)
        self.fields((*self.path, "fields"), self.view.fields, state=False)
        key = self.view.fields.get(self.view.key)
        if key is None and self.checker.missing((*self.path, "fields", self.view.key)):
            self.report(
                (*self.path, "key"),
                Code.BAD_VIEW_KEY,
                f"the key '{self.view.key}' is not a field of view {self.domain}.{self.name}",
                closest(self.view.key, self.view.fields),
            )
        elif key is not None and key.type == "json":
            self.report(
                (*self.path, "key"), Code.BAD_VIEW_KEY, "a json field cannot key a view's rows"
            )
        for reference, rule in self.view.from_.items():
            self.rule((*self.path, "from", reference), reference, rule, key)
        self.checker.names_unique((*self.path, "policies"), list(self.view.policies))
        for role in self.view.policies:
            self.view_policy(role)

    def state_field(self, path: Path, field_name: str, *, key: bool = True) -> FieldSpec | None:
        spec = self.view.fields.get(field_name)
        if spec is None and self.checker.missing((*self.path, "fields", field_name)):
            self.report(
                path,
                Code.UNKNOWN_STATE_FIELD,
                f"'{field_name}' is not a field of view {self.domain}.{self.name}",
                closest(field_name, self.view.fields),
                key=key,
            )
        return spec

    def rule(self, path: Path, reference: str, rule: ViewRuleSpec, key: FieldSpec | None) -> None:
        try:
            found = resolve_from(self.checker.domains, self.domain, reference)
        except UnresolvedEvent as exc:
            code = Code.AMBIGUOUS_EVENT if exc.ambiguous else Code.UNKNOWN_EVENT
            self.report(path, code, str(exc), exc.suggestion, key=True)
            return
        event = self.checker.domains[found.domain].aggregates[found.aggregate].events[found.event]
        view_rule, changes = rule.read()
        if view_rule.delete and changes:
            self.report(
                (*path, "delete"),
                Code.INVALID_VALUE,
                f"the rule for '{reference}' deletes the row, so it cannot also change it",
                key=True,
            )
        if key is not None:
            source = self.operand_spec((*path, "key"), reference, event, view_rule.key)
            if source is not None and (problem := flow_problem(source, key)):
                self.report(
                    (*path, "key"),
                    Code.BAD_VIEW_KEY,
                    f"the key of the rule for '{reference}' cannot fill '{self.view.key}': "
                    f"{problem}",
                )
            elif isinstance(view_rule.key, Literal) and (
                problem := value_problem(key, view_rule.key.value)
            ):
                self.report(
                    (*path, "key"),
                    Code.BAD_VIEW_KEY,
                    f"the key {shown(view_rule.key.value)} {problem}",
                )
        targets = [located.rule.target for located in changes]
        for located in changes:
            self.view_change((*path, *located.place), reference, event, located.rule)
        for field_name in {f for f in targets if targets.count(f) > 1}:
            self.report(
                path,
                Code.INVALID_VALUE,
                f"the rule for '{reference}' changes '{field_name}' twice; use one of set, add "
                "and subtract",
            )

    def operand_spec(
        self, path: Path, reference: str, event: EventSpec, operand: Operand | MetadataRef
    ) -> FieldSpec | None:
        """The type an operand reads: an event field's, or a metadata's; None for a literal or
        an operand reported as unknown."""
        if isinstance(operand, MetadataRef):
            kind = EVENT_METADATA.get(operand.name)
            if kind is None:
                self.report(
                    path,
                    Code.UNKNOWN_METADATA,
                    f"'@{operand.name}' is not event metadata; metadata: "
                    + ", ".join(f"@{name}" for name in EVENT_METADATA),
                    closest(operand.name, EVENT_METADATA),
                )
                return None
            return FieldSpec.model_validate({"type": kind})
        if isinstance(operand, EventFieldRef):
            spec = event.fields.get(operand.name)
            if spec is None:
                self.report(
                    path,
                    Code.UNKNOWN_EVENT_FIELD,
                    f"'${operand.name}' is not a field of event '{reference}'",
                    closest(operand.name, event.fields),
                )
            return spec
        return None

    def view_change(self, path: Path, reference: str, event: EventSpec, change: Change) -> None:
        field_name, operation = change.target, change.operation
        target = self.state_field(path, field_name)
        if target is not None and operation != Operation.SET and target.type not in NUMERIC_TYPES:
            self.report(
                path,
                Code.NOT_NUMERIC,
                f"cannot {operation} '{field_name}': it is {target.type}, not a number",
                key=True,
            )
            return
        value = change.value
        source = self.operand_spec(path, reference, event, value)
        if target is None:
            return
        if source is not None and (problem := flow_problem(source, target)):
            self.report(
                path,
                Code.TYPE_MISMATCH,
                f"'{path[-1]}' cannot hold {shown_operand(value)}: {problem}",
            )
        if not isinstance(value, Literal):
            return
        if operation == Operation.SET:
            problem = value_problem(target, value.value)
            wording = f"sets '{field_name}' to {shown(written(value))}, which"
        else:
            problem = amount_problem(target, written(value))
            verb = "adds" if operation == Operation.ADD else "subtracts"
            wording = f"{verb} {shown(written(value))}, which"
        if problem:
            self.report(path, Code.TYPE_MISMATCH, f"the rule for '{reference}' {wording} {problem}")

    def view_policy(self, role: str) -> None:
        path = (*self.path, "policies", role)
        policy = self.view.policies[role]
        self.checker.name_form(path, names.ROLE, "kebab-case or snake_case")
        for index, action in enumerate(policy.allow):
            if action != READ_ACTION:
                self.report(
                    (*path, "allow", index),
                    Code.UNKNOWN_COMMAND,
                    f"role '{role}' is allowed '{action}'; a view is only read (`read`)",
                    closest(action, [READ_ACTION]),
                )
            elif action in policy.allow[:index]:
                self.report(
                    (*path, "allow", index), Code.INVALID_VALUE, f"'{action}' is listed twice"
                )
        if policy.scope is not None:
            self.scope((*path, "scope"), role, policy.scope)


def shown_operand(operand: Operand | MetadataRef) -> str:
    """A reading operand as the spec writes it: `$name` or `@name`."""
    if isinstance(operand, MetadataRef):
        return f"@{operand.name}"
    return f"${operand.name}" if isinstance(operand, EventFieldRef) else shown(operand)


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
