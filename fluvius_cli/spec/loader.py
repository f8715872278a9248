"""Load a spec file: parse, validate the shape, then check the rules; all errors at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fluvius_cli.spec.diagnostics import Diagnostic, SpecError
from fluvius_cli.spec.document import Document, DocumentError, parse_document, read_document
from fluvius_cli.spec.model import Spec
from fluvius_cli.spec.rules import check_rules
from fluvius_cli.spec.structure import validate_structure


@dataclass(frozen=True)
class CheckResult:
    """What checking a spec found: the spec when it is valid, and every diagnostic."""

    file: str
    spec: Spec | None
    diagnostics: list[Diagnostic]
    document: Document | None = None

    @property
    def ok(self) -> bool:
        return not self.diagnostics


def check_file(path: Path) -> CheckResult:
    """Check the spec at `path`."""
    try:
        document = read_document(path)
    except DocumentError as exc:
        return CheckResult(str(path), None, [exc.diagnostic])
    return check_document(document)


def check_text(text: str | bytes, file: str = "fluvius.yaml") -> CheckResult:
    """Check spec source held in memory; `file` names it in diagnostics."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        document = parse_document(raw, file)
    except DocumentError as exc:
        return CheckResult(file, None, [exc.diagnostic])
    return check_document(document)


def check_document(document: Document) -> CheckResult:
    """Check an already parsed document."""
    structure = validate_structure(document)
    diagnostics = list(structure.diagnostics)
    if structure.domains is not None:
        diagnostics += check_rules(
            document,
            _project_name(document),
            structure.domains,
            structure.dropped,
            structure.spec.streams if structure.spec is not None else {},
        )
    diagnostics.sort(key=Diagnostic.sort_key)
    spec = structure.spec if not diagnostics else None
    return CheckResult(document.file, spec, diagnostics, document)


def load_spec(path: Path) -> Spec:
    """The valid spec at `path`; raise SpecError with every diagnostic otherwise."""
    result = check_file(path)
    if result.spec is None:
        raise SpecError(result.file, result.diagnostics)
    return result.spec


def _project_name(document: Document) -> str | None:
    project = document.data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) else None
