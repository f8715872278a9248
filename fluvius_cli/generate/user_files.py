"""Growing a user file: add the functions the spec now needs, and nothing else.

A user file such as `workers.py` belongs to the user, but when fluvius.yaml declares a new
worker its function must exist. The file gets the missing function appended and the imports it
needs added to its import block; every other line stays as the user wrote it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from fluvius_cli.generate.render import Section


@dataclass(frozen=True)
class Extension:
    """What extending a user file gives: its new text, and the functions that were added."""

    content: str
    added: tuple[str, ...]


class UnreadableUserFile(ValueError):
    """The user file does not parse, so fluvius cannot tell what it defines."""


def extend(existing: str, sections: tuple[Section, ...]) -> Extension:
    """`existing` with the sections it lacks; unchanged when it has them all."""
    try:
        tree = ast.parse(existing)
    except SyntaxError as exc:
        raise UnreadableUserFile(f"line {exc.lineno}: {exc.msg}") from None
    missing = [section for section in sections if section.name not in _defined(tree, section)]
    if not missing:
        return Extension(existing, ())
    lines = existing.splitlines()
    for container, group in _by_container(missing):
        code = [section.code for section in group]
        if container is None:
            lines += [line for block in code for line in ["", "", *block.splitlines()]]
        else:
            end = _class(tree, container).end_lineno or len(lines)
            indented = [
                f"    {line}" if line else ""
                for block in code
                for line in ["", *block.splitlines()]
            ]
            lines[end:end] = indented
    imported = _imported_names(tree)
    new_imports = sorted(
        {line for section in missing for line in section.imports if not _names(line) <= imported}
    )
    last_import = max(
        (
            node.end_lineno or 0
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
        ),
        default=_after_docstring(tree),
    )
    lines[last_import:last_import] = new_imports
    return Extension(
        "\n".join(lines).rstrip("\n") + "\n", tuple(section.name for section in missing)
    )


def _defined(tree: ast.Module, section: Section) -> set[str]:
    """The names defined where `section` belongs: the module, or its class."""
    body = tree.body if section.container is None else _class(tree, section.container).body
    return {
        node.name
        for node in body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise UnreadableUserFile(f"it no longer defines the class {name}")


def _by_container(sections: list[Section]) -> list[tuple[str | None, list[Section]]]:
    """Sections grouped by where they go, class bodies last to first, so insertion points hold."""
    groups: dict[str | None, list[Section]] = {}
    for section in sections:
        groups.setdefault(section.container, []).append(section)
    return sorted(groups.items(), key=lambda item: item[0] is None, reverse=True)


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _names(import_line: str) -> set[str]:
    """The names an import line binds."""
    return _imported_names(ast.parse(import_line))


def _after_docstring(tree: ast.Module) -> int:
    first = tree.body[0] if tree.body else None
    is_docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    return first.end_lineno or 0 if is_docstring and first is not None else 0
