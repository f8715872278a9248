"""Generating a project's code from its spec (`fluvius generate`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from fluvius_cli.generate.event_versions import EventVersions
from fluvius_cli.generate.formatting import format_python, sort_imports
from fluvius_cli.generate.lookalikes import check_user_methods
from fluvius_cli.generate.manifest import Manifest
from fluvius_cli.generate.render import SCHEMA_PATH, RenderedFile, render_project
from fluvius_cli.generate.sync import Action, Change, apply, next_manifest, plan
from fluvius_cli.project import SPEC_FILE
from fluvius_cli.spec import Spec, load_spec

SCHEMA_LINE = f"# yaml-language-server: $schema={SCHEMA_PATH}"


@dataclass(frozen=True)
class Generation:
    """The outcome of generating: the spec, and what happened (or would happen) to each file."""

    spec: Spec
    changes: list[Change]

    @property
    def differs(self) -> bool:
        """Whether the tree differed from the spec (before this generation, if it wrote)."""
        return any(change.action.changes_tree for change in self.changes)

    def count(self, action: Action) -> int:
        return sum(change.action is action for change in self.changes)


def generate(root: Path, *, write: bool = True, spec: Spec | None = None) -> Generation:
    """Render the project at `root` from its fluvius.yaml (or from `spec`, already loaded from
    it); write the changes unless told not to."""
    spec = spec or load_spec(root / SPEC_FILE)
    versions = EventVersions.load(root)
    check_user_methods(root, spec, versions)
    files = rendered_files(spec, versions)
    manifest = Manifest.load(root)
    changes = _sorted_imports(plan(root, files, manifest), spec.project.name)
    if write:
        apply(root, changes, next_manifest(changes, manifest, files))
    return Generation(spec, changes)


def rendered_files(spec: Spec, versions: EventVersions | None = None) -> list[RenderedFile]:
    """Every file the spec asks for, formatted as the project's ruff would (their sections too)."""
    files = render_project(spec, versions)
    sources = {file.path: file.content for file in files}
    sections = {
        f"_sections/{index}/{number}.py": section.code
        for index, file in enumerate(files)
        for number, section in enumerate(file.sections)
    }
    formatted = format_python(sources | sections, spec.project.name)
    return [
        replace(
            file,
            content=formatted[file.path],
            sections=tuple(
                replace(section, code=formatted[f"_sections/{index}/{number}.py"].rstrip())
                for number, section in enumerate(file.sections)
            ),
        )
        for index, file in enumerate(files)
    ]


def _sorted_imports(changes: list[Change], first_party: str) -> list[Change]:
    """Extended user files get their new imports sorted into place."""
    grown = {c.path: c.content for c in changes if c.action is Action.EXTEND and c.content}
    if not grown:
        return changes
    sorted_files = sort_imports(grown, first_party)
    return [
        replace(change, content=sorted_files[change.path]) if change.path in grown else change
        for change in changes
    ]


def with_schema_line(spec_text: str) -> str:
    """The spec with the line that lets editors find its JSON Schema."""
    if "yaml-language-server:" in spec_text.split("\n", 1)[0]:
        return spec_text
    return f"{SCHEMA_LINE}\n{spec_text}"
