"""The project a verb works on: its folder, spec, settings, and its service once imported."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fluvius_cli.spec import Spec, load_spec

if TYPE_CHECKING:
    from fluvius.service import Service
    from fluvius.settings import Settings

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
class Project:
    """A generated service's folder and spec."""

    root: Path
    spec: Spec

    @property
    def package(self) -> str:
        return self.spec.project.name

    @classmethod
    def find(cls, start: Path) -> Project:
        """The project holding `start`, its spec loaded (SpecError when the spec is invalid)."""
        root = find_root(start)
        return cls(root, load_spec(root / SPEC_FILE))

    def settings(self) -> Settings:
        """The service's settings, from the environment and the project's .env."""
        from fluvius.settings import Settings

        return Settings.load(self.package, self.root)

    def importable(self) -> None:
        """Let Python import the project's package."""
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))

    def forget_modules(self) -> None:
        """Drop the project's modules already imported, so the next import reads the files."""
        prefix = f"{self.package}."
        for name in [n for n in sys.modules if n == self.package or n.startswith(prefix)]:
            del sys.modules[name]

    def service(self) -> Service:
        """Import the project's generated service declaration."""
        self.importable()
        module = importlib.import_module(f"{self.package}._generated.service")
        service: Service = module.SERVICE
        return service
