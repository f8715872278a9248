"""A domain's views seen from the templates: their tables, rules and policy rows as code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fluvius_cli.generate import pytypes, rule_code
from fluvius_cli.generate.imports import Code, Import, Imports
from fluvius_cli.generate.view import TableView
from fluvius_cli.spec.model import ViewSpec
from fluvius_cli.spec.streams import resolve_from

if TYPE_CHECKING:
    from fluvius_cli.generate.view import DomainView


@dataclass(frozen=True)
class ReadModelView(TableView[ViewSpec]):
    """A view of the spec: its table, and its `View` declaration."""

    @property
    def table_variable(self) -> str:
        return f"{self.name}_view_table"

    @property
    def constant(self) -> str:
        return self.name.upper()

    @property
    def types(self) -> list[tuple[str, Code]]:
        """Each field and the Python class of its values."""
        return [(field.name, pytypes.python_class(field.spec)) for field in self.fields]

    @property
    def defaults(self) -> list[tuple[str, Code]]:
        """The fields with a default, and its value."""
        return [
            (field.name, pytypes.literal(field.spec, field.spec.default))
            for field in self.fields
            if field.spec.has_default and field.spec.default is not None
        ]

    @property
    def rules(self) -> list[tuple[str, Code]]:
        """Each event that feeds the view, as `domain.aggregate.event`, and its rule."""
        found = []
        for reference, rule in self.spec.from_.items():
            event = resolve_from(self.domain.project.spec.domains, self.domain.name, reference)
            qualified = f"{event.domain}.{event.aggregate}.{event.event}"
            found.append((qualified, rule_code.view_rule(rule.read()[0])))
        return found

    def imports(self) -> Imports:
        imports = Imports([Import("fluvius.application.views", "View")])
        for _, kind in self.types:
            imports.update(kind.imports)
        for _, value in self.defaults:
            imports.update(value.imports)
        for _, rule in self.rules:
            imports.update(rule.imports)
        return imports


def read_models(domain: DomainView) -> list[ReadModelView]:
    """The views of `domain`."""
    return [ReadModelView(name, spec, domain) for name, spec in domain.spec.views.items()]
