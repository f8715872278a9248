"""Misspelt overrides in the user's aggregate modules, found before generation writes anything.

The rule is the runtime's (`fluvius.domain.lookalikes`), which also refuses them when the
service starts; here each is located in its module, read with `ast` (nothing is imported).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from fluvius.domain.lookalikes import lookalike
from fluvius_cli.generate.view import AggregateView, ProjectView
from fluvius_cli.spec.diagnostics import Code, Diagnostic, Position, SpecError

if TYPE_CHECKING:
    from pathlib import Path

    from fluvius_cli.generate.event_versions import EventVersions
    from fluvius_cli.spec.model import Spec

REGISTERING = frozenset({"handles", "applies", "upcasts"})  # decorators that name what they do


def check_user_methods(root: Path, spec: Spec, versions: EventVersions) -> None:
    """Raise a SpecError located in the first user aggregate module with lookalike methods."""
    project = ProjectView(spec, versions.advanced(spec))
    for domain in project.domains:
        for aggregate in domain.aggregates:
            path = f"{project.package}/{domain.name}/{aggregate.module}.py"
            found = _lookalikes(root / path, aggregate, project)
            if found:
                raise SpecError(path, found)


def _lookalikes(module: Path, aggregate: AggregateView, project: ProjectView) -> list[Diagnostic]:
    try:
        tree = ast.parse(module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []  # absent (generation creates it) or not Python yet: nothing to compare
    expected = _expected(aggregate, project)
    found = []
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name == aggregate.class_name):
            continue
        for item in node.body:
            if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) or _registered(item):
                continue
            if (alike := lookalike(item.name, expected)) is not None:
                keyword = "async def " if isinstance(item, ast.AsyncFunctionDef) else "def "
                where = Position(item.lineno, item.col_offset + len(keyword) + 1)
                message = alike.message(aggregate.qualified_name)
                found.append(Diagnostic(where, Code.MISNAMED_METHOD, message, alike.suggestion))
    return found


def _expected(aggregate: AggregateView, project: ProjectView) -> set[str]:
    """The names of the aggregate's command methods, apply methods and upcasters."""
    upcasters = {
        step.upcaster
        for event in aggregate.events
        for step in project.versions.steps(aggregate.qualified_name, event.name)
    }
    commands = {command.method for command in aggregate.commands}
    return commands | {event.method for event in aggregate.events} | upcasters


def _registered(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a decorator (`@handles`, `@applies`, `@upcasts`) registers the method itself."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name in REGISTERING:
            return True
    return False
