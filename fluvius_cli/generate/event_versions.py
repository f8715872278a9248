"""Versions of event schemas: `.fluvius/events.json` remembers the fields of every version.

Event tables are append-only, so a spec change to an event's fields never alters stored events:
the event gets a new schema version, and an upcaster turns data of the previous version into
the new shape when old events are loaded. A change is *mechanical* when fluvius can write that
upcaster itself (fields dropped, fields added with a default, types widened); otherwise it is
*breaking*, and the user writes the upcaster.
"""

from __future__ import annotations

import ast
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluvius_cli.spec.diagnostics import Code, Diagnostic
from fluvius_cli.spec.document import Document
from fluvius_cli.spec.model import FieldSpec, Spec
from fluvius_cli.spec.names import pascal
from fluvius_cli.spec.values import flow_problem

LOCK_PATH = ".fluvius/events.json"

Schema = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class VersionStep:
    """How an event's data changed from `version` to `version + 1`."""

    aggregate: str
    event: str
    version: int
    removed: tuple[str, ...]
    added_with_default: tuple[str, ...]
    added_required: tuple[str, ...]
    retyped: tuple[str, ...]

    @property
    def breaking(self) -> bool:
        """True when old data cannot be brought to the new shape without the user's help."""
        return bool(self.added_required or self.retyped)

    @property
    def upcaster(self) -> str:
        """The name of the upcaster method."""
        return f"upcast_{self.event.replace('-', '_')}_v{self.version}"

    @property
    def reason(self) -> str:
        """Why the step is breaking, in words."""
        reasons = [f"new required field {name}" for name in self.added_required]
        reasons += [f"{name} changed type" for name in self.retyped]
        return ", ".join(reasons)


@dataclass
class EventVersions:
    """Every event's schema, version by version."""

    history: dict[str, list[Schema]]

    @classmethod
    def load(cls, root: Path) -> EventVersions:
        try:
            data = json.loads((root / LOCK_PATH).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls({})
        return cls({key: list(versions) for key, versions in data.get("events", {}).items()})

    def dump(self) -> str:
        return json.dumps({"events": self.history}, indent=2, sort_keys=True) + "\n"

    def version(self, aggregate: str, event: str) -> int:
        """The current schema version of an event (1 when it was never recorded)."""
        return max(len(self.history.get(_key(aggregate, event), [])), 1)

    def advanced(self, spec: Spec) -> EventVersions:
        """The versions after `spec`: a new version for every event whose fields changed."""
        history = {key: list(versions) for key, versions in self.history.items()}
        for aggregate, event, fields in _events(spec):
            current = _schema(fields)
            versions = history.setdefault(_key(aggregate, event), [])
            if not versions or versions[-1] != current:
                versions.append(current)
        return EventVersions(history)

    def steps(self, aggregate: str, event: str) -> list[VersionStep]:
        """Every version step of an event, oldest first."""
        versions = self.history.get(_key(aggregate, event), [])
        return [
            _step(aggregate, event, number, old, new)
            for number, (old, new) in enumerate(itertools.pairwise(versions), start=1)
        ]


def _events(spec: Spec) -> list[tuple[str, str, dict[str, FieldSpec]]]:
    return [
        (f"{domain_name}.{name}", event_name, event.fields)
        for domain_name, domain in spec.domains.items()
        for name, aggregate in domain.aggregates.items()
        for event_name, event in aggregate.events.items()
    ]


def _key(aggregate: str, event: str) -> str:
    return f"{aggregate}:{event}"


def _schema(fields: dict[str, FieldSpec]) -> Schema:
    return {
        name: spec.model_dump(mode="json", exclude_defaults=True) | {"type": spec.type}
        for name, spec in sorted(fields.items())
    }


def _step(aggregate: str, event: str, version: int, old: Schema, new: Schema) -> VersionStep:
    added = [name for name in new if name not in old]
    retyped = [
        name
        for name in new
        if name in old
        and flow_problem(FieldSpec.model_validate(old[name]), FieldSpec.model_validate(new[name]))
    ]
    return VersionStep(
        aggregate,
        event,
        version,
        removed=tuple(name for name in old if name not in new),
        added_with_default=tuple(name for name in added if "default" in new[name]),
        added_required=tuple(name for name in added if "default" not in new[name]),
        retyped=tuple(retyped),
    )


def unwritten_upcasters(root: Path, spec: Spec, document: Document) -> list[Diagnostic]:
    """Breaking changes of events whose upcaster is missing, or still the stub fluvius wrote."""
    versions = EventVersions.load(root).advanced(spec)
    found = []
    for domain_name, domain in spec.domains.items():
        for name, aggregate in domain.aggregates.items():
            module = root / spec.project.name / domain_name / f"{name}.py"
            for event in aggregate.events:
                for step in versions.steps(f"{domain_name}.{name}", event):
                    if not step.breaking or _written(module, pascal(name), step.upcaster):
                        continue
                    path = ("domains", domain_name, "aggregates", name, "events", event)
                    found.append(
                        Diagnostic(
                            document.key_at(path),
                            Code.UNWRITTEN_UPCASTER,
                            f"event '{event}' changed in a way its stored events cannot follow "
                            f"({step.reason}): write {pascal(name)}.{step.upcaster} in "
                            f"{module.relative_to(root)} (`fluvius generate` adds its stub)",
                        )
                    )
    return found


def _written(module: Path, class_name: str, method: str) -> bool:
    """Whether `class_name.method` exists in `module` and is more than the raising stub."""
    try:
        tree = ast.parse(module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    return not _is_stub(item)
    return False


def _is_stub(function: ast.FunctionDef) -> bool:
    body = [
        statement
        for statement in function.body
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
    ]
    return (
        len(body) == 1
        and isinstance(body[0], ast.Raise)
        and isinstance(body[0].exc, ast.Call)
        and isinstance(body[0].exc.func, ast.Name)
        and body[0].exc.func.id == "NotImplementedError"
    )
