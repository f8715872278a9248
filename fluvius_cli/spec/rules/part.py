"""What the rules of an aggregate and of a view share: their name, fields and policies, and the
changes an event makes to their fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Generic, TypeVar

from fluvius.domain.rules import Change, Literal, MetadataRef, Operand, Operation
from fluvius_cli.spec import names
from fluvius_cli.spec.diagnostics import Code
from fluvius_cli.spec.document import Path
from fluvius_cli.spec.language import Located, written
from fluvius_cli.spec.model import (
    NUMERIC_TYPES,
    PUBLIC_ROLE,
    AggregateSpec,
    FieldSpec,
    PolicySpec,
    ViewSpec,
)
from fluvius_cli.spec.rules.checker import Checker
from fluvius_cli.spec.rules.fields import check_fields
from fluvius_cli.spec.suggest import closest
from fluvius_cli.spec.values import amount_problem, shown, value_problem

S = TypeVar("S", bound=AggregateSpec | ViewSpec)

SCOPE_TYPES = frozenset({"string", "text", "uuid", "ref"})

ChangeSource = Callable[[Path, "Operand | MetadataRef", "FieldSpec | None"], None]
"""Checks where a change's value comes from, at the change's path, against its target field."""


class PartChecker(Generic[S]):
    """The rules inside one aggregate or view of a domain.

    `kind` is where the domain declares such parts, `state` whether their fields are an
    aggregate's state, and `owner` how messages name the part that holds a field.
    """

    kind: ClassVar[str]
    state: ClassVar[bool]
    owner: ClassVar[str]

    def __init__(self, checker: Checker, domain: str, name: str, spec: S):
        self.checker = checker
        self.report = checker.report
        self.domain = domain
        self.name = name
        self.spec: S = spec
        self.fields: Mapping[str, FieldSpec] = spec.fields
        self.path: Path = ("domains", domain, self.kind, name)

    def check(self) -> None:
        self.checker.module_name(self.path)
        check_fields(self.checker, (*self.path, "fields"), self.fields, state=self.state)
        self.check_own()
        self.checker.names_unique((*self.path, "policies"), list(self.spec.policies))
        for role, policy in self.spec.policies.items():
            self.policy(role, policy)

    def check_own(self) -> None:
        """The rules of what only this kind of part declares."""
        raise NotImplementedError

    def state_field(self, path: Path, field_name: str, *, key: bool = True) -> FieldSpec | None:
        """The field `field_name`; reported as unknown at `path` when not declared."""
        spec = self.fields.get(field_name)
        if spec is None and self.checker.missing((*self.path, "fields", field_name)):
            self.report(
                path,
                Code.UNKNOWN_STATE_FIELD,
                f"'{field_name}' is not {self.owner} {self.domain}.{self.name}",
                closest(field_name, self.fields),
                key=key,
            )
        return spec

    def payload_field(
        self,
        path: Path,
        name: str,
        fields: Mapping[str, FieldSpec],
        code: Code,
        owner: str,
        *,
        reported: bool = True,
    ) -> FieldSpec | None:
        """The field `$name` reads from a command's or event's `fields`; when there is none, it is
        reported at `path` as `code` (unless not `reported`: it was dropped for its errors)."""
        spec = fields.get(name)
        if spec is None and reported:
            self.report(path, code, f"'${name}' is not a field of {owner}", closest(name, fields))
        return spec

    # Changes -------------------------------------------------------------------------------

    def changes(
        self,
        path: Path,
        located: Sequence[Located[Change]],
        subject: str,
        source: ChangeSource,
        *,
        whole: Path,
    ) -> None:
        """The changes one event makes, placed under `path`, written as a whole at `whole`, and
        said to be made by `subject`."""
        for change in located:
            self.change((*path, *change.place), change.rule, subject, source)
        targets = [change.rule.target for change in located]
        for field_name in {f for f in targets if targets.count(f) > 1}:
            self.report(
                whole,
                Code.INVALID_VALUE,
                f"{subject} changes '{field_name}' twice; use one of set, add and subtract",
            )

    def change(self, path: Path, change: Change, subject: str, source: ChangeSource) -> None:
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
        source(path, value, target)
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
            self.report(path, Code.TYPE_MISMATCH, f"{subject} {wording} {problem}")

    # Policies ------------------------------------------------------------------------------

    def policy(self, role: str, policy: PolicySpec) -> None:
        path = (*self.path, "policies", role)
        self.checker.name_form(path, names.ROLE, "kebab-case or snake_case")
        for index, action in enumerate(policy.allow):
            self.action((*path, "allow", index), role, action, action in policy.allow[:index])
        if policy.scope is not None:
            self.scope((*path, "scope"), role, policy.scope)

    def action(self, path: Path, role: str, action: str, repeated: bool) -> None:
        """An action a policy allows; `repeated` when the policy lists it before."""
        raise NotImplementedError

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
