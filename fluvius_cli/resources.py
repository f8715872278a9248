"""Files that ship with fluvius: templates and example specs.

In a wheel they live in `fluvius_cli/_bundled/`; in a source checkout, at the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"fluvius is installed without its {name}/ folder")


def templates_dir() -> Path:
    """The root of the copier skeleton and the code templates."""
    return _bundled("templates")


def examples_dir() -> Path:
    """The example specs."""
    return _bundled("examples")


def example_names() -> list[str]:
    """The names accepted by `--example`."""
    return sorted(path.stem for path in examples_dir().glob("*.yaml"))


def example_path(name: str) -> Path:
    """The spec file of the example called `name`."""
    return examples_dir() / f"{name}.yaml"
