"""The checker's shared context: the document it reports on, the spec's names, what was dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fluvius_cli.spec import names
from fluvius_cli.spec.diagnostics import Code, Diagnostic
from fluvius_cli.spec.document import Document, Path
from fluvius_cli.spec.model import DomainSpec
from fluvius_cli.spec.structure import describe


class Checker:
    """Collects the diagnostics of one spec, and answers what its parts declare."""

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

    # What the spec declares ----------------------------------------------------------------

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
