"""The project an authoring verb works on: the runtime's project, with its spec loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fluvius.project import Project as ServiceProject
from fluvius_cli.spec import Spec, load_spec

SPEC_FILE = "fluvius.yaml"


class NotAProject(RuntimeError):
    """No fluvius.yaml in the folder or any folder above it."""


def find_root(start: Path) -> Path:
    """The nearest folder from `start` upwards that holds a fluvius.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / SPEC_FILE).is_file():
            return folder
    raise NotAProject(f"no {SPEC_FILE} in {start} or above it: run this inside a project")


@dataclass(frozen=True)
class Project(ServiceProject):
    """A generated service's folder, package and spec."""

    spec: Spec

    @classmethod
    def find(cls, start: Path) -> Project:
        """The project holding `start`, its spec loaded (SpecError when the spec is invalid)."""
        root = find_root(start)
        spec = load_spec(root / SPEC_FILE)
        return cls(root, spec.project.name, spec)
