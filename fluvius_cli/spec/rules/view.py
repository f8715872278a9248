"""The rules inside one view: its key, the events that feed it and what they read, its policies."""

from __future__ import annotations

from typing import ClassVar

from fluvius.domain.rules import EVENT_METADATA, EventFieldRef, Literal, MetadataRef, Operand
from fluvius_cli.spec.diagnostics import Code
from fluvius_cli.spec.document import Path
from fluvius_cli.spec.model import READ_ACTION, EventSpec, FieldSpec, ViewRuleSpec, ViewSpec
from fluvius_cli.spec.rules.part import PartChecker
from fluvius_cli.spec.streams import UnresolvedEvent, resolve_from
from fluvius_cli.spec.suggest import closest
from fluvius_cli.spec.values import flow_problem, shown, value_problem


class ViewChecker(PartChecker[ViewSpec]):
    """The rules inside one view: its fields and key, the events that feed it, its policies."""

    kind: ClassVar[str] = "views"
    owner: ClassVar[str] = "a field of view"
    state: ClassVar[bool] = False

    def check_own(self) -> None:
        key = self.spec.fields.get(self.spec.key)
        if key is None and self.checker.missing((*self.path, "fields", self.spec.key)):
            self.report(
                (*self.path, "key"),
                Code.BAD_VIEW_KEY,
                f"the key '{self.spec.key}' is not a field of view {self.domain}.{self.name}",
                closest(self.spec.key, self.spec.fields),
            )
        elif key is not None and key.type == "json":
            self.report(
                (*self.path, "key"), Code.BAD_VIEW_KEY, "a json field cannot key a view's rows"
            )
        for reference, rule in self.spec.from_.items():
            self.rule((*self.path, "from", reference), reference, rule, key)

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
                    f"the key of the rule for '{reference}' cannot fill '{self.spec.key}': "
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

        def source_of(where: Path, value: Operand | MetadataRef, target: FieldSpec | None) -> None:
            source = self.operand_spec(where, reference, event, value)
            if target is None or source is None:
                return
            if problem := flow_problem(source, target):
                self.report(
                    where,
                    Code.TYPE_MISMATCH,
                    f"'{where[-1]}' cannot hold {shown_operand(value)}: {problem}",
                )

        self.changes(path, changes, f"the rule for '{reference}'", source_of, whole=path)

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
            return self.payload_field(
                path, operand.name, event.fields, Code.UNKNOWN_EVENT_FIELD, f"event '{reference}'"
            )
        return None

    def action(self, path: Path, role: str, action: str, repeated: bool) -> None:
        if action != READ_ACTION:
            self.report(
                path,
                Code.UNKNOWN_COMMAND,
                f"role '{role}' is allowed '{action}'; a view is only read (`read`)",
                closest(action, [READ_ACTION]),
            )
        elif repeated:
            self.report(path, Code.INVALID_VALUE, f"'{action}' is listed twice")


def shown_operand(operand: Operand | MetadataRef) -> str:
    """A reading operand as the spec writes it: `$name` or `@name`."""
    if isinstance(operand, MetadataRef):
        return f"@{operand.name}"
    return f"${operand.name}" if isinstance(operand, EventFieldRef) else shown(operand)
