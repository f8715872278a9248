"""The service a runtime verb works on: its folder, package, settings, and its declarations.

The project is found without its spec: the `[tool.fluvius]` table of its pyproject.toml names
the package, so a deployed service needs neither fluvius.yaml nor the generator.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluvius.service import Service
    from fluvius.settings import Settings

PYPROJECT = "pyproject.toml"


class NotAProject(RuntimeError):
    """No fluvius project in the folder or any folder above it."""


def declared_package(folder: Path) -> str | None:
    """The package named by `[tool.fluvius]` in the folder's pyproject.toml, if it has one."""
    path = folder / PYPROJECT
    if not path.is_file():
        return None
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise NotAProject(f"{path} is not valid TOML: {error}") from None
    package = document.get("tool", {}).get("fluvius", {}).get("package")
    return package if isinstance(package, str) and package.isidentifier() else None


@dataclass(frozen=True)
class Project:
    """A generated service's folder and Python package."""

    root: Path
    package: str

    @classmethod
    def find(cls, start: Path) -> Project:
        """The nearest project from `start` upwards: a pyproject.toml with `[tool.fluvius]`."""
        start = start.resolve()
        for folder in (start, *start.parents):
            package = declared_package(folder)
            if package is not None:
                return cls(folder, package)
        raise NotAProject(
            f"no fluvius project in {start} or above it (a {PYPROJECT} with a [tool.fluvius] "
            "package): run this inside a project"
        )

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
        """Import the project's generated service declaration, as its files are now."""
        self.forget_modules()
        self.importable()
        module = importlib.import_module(f"{self.package}._generated.service")
        service: Service = module.SERVICE
        return service
