"""The import lines of a generated module, collected from what its code uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Import:
    """`import module [as alias]`, or `from module import name`."""

    module: str
    name: str | None = None
    alias: str | None = None


@dataclass(frozen=True)
class Code:
    """A fragment of generated code, with the imports it needs."""

    text: str
    imports: frozenset[Import] = frozenset()

    def __str__(self) -> str:
        return self.text

    def __add__(self, other: Code | str) -> Code:
        """The two fragments written one after the other."""
        if isinstance(other, str):
            return Code(self.text + other, self.imports)
        return Code(self.text + other.text, self.imports | other.imports)

    def __radd__(self, other: str) -> Code:
        return Code(other + self.text, self.imports)


def code(text: str, *imports: Import) -> Code:
    """`text`, needing `imports`."""
    return Code(text, frozenset(imports))


def joined(separator: str, fragments: Iterable[Code]) -> Code:
    """The fragments with `separator` between them, needing what each needs."""
    parts = list(fragments)
    imports = frozenset().union(*(part.imports for part in parts))
    return Code(separator.join(part.text for part in parts), imports)


class Imports:
    """A set of imports, rendered as import lines (ruff sorts them into sections)."""

    def __init__(self, items: Iterable[Import] = ()) -> None:
        self._items: set[Import] = set(items)

    def add(self, item: Import) -> None:
        self._items.add(item)

    def update(self, items: Iterable[Import]) -> None:
        self._items.update(items)

    def __iter__(self) -> Iterator[Import]:
        return iter(self._items)

    def lines(self) -> list[str]:
        modules = sorted(item for item in self._items if item.name is None)
        names: dict[str, set[str]] = {}
        for item in self._items:
            if item.name is not None:
                names.setdefault(item.module, set()).add(item.name)
        lines = [_import_line(item) for item in modules]
        lines += [
            f"from {module} import {', '.join(sorted(found))}"
            for module, found in sorted(names.items())
        ]
        return lines


def _import_line(item: Import) -> str:
    return f"import {item.module} as {item.alias}" if item.alias else f"import {item.module}"
