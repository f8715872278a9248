"""Files that ship with fluvius: templates and examples.

In a wheel they live in `fluvius_cli/_bundled/`; in a source checkout, at the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
EXAMPLE_SPEC = "fluvius.yaml"
# The example's spec is copied first and generated from; its README is about the example.
_NOT_USER_CODE = {EXAMPLE_SPEC, "README.md"}
_CACHES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def _bundled(name: str) -> Path:
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"fluvius is installed without its {name}/ folder")


def templates_dir() -> Path:
    """The root of the copier skeleton and the code templates."""
    return _bundled("templates")


def examples_dir() -> Path:
    """The examples: a folder each, with its spec and the user code of its project."""
    return _bundled("examples")


def example_names() -> list[str]:
    """The names accepted by `--example`."""
    return sorted(path.parent.name for path in examples_dir().glob(f"*/{EXAMPLE_SPEC}"))


def example_spec(name: str) -> Path:
    """The spec file of the example called `name`."""
    return examples_dir() / name / EXAMPLE_SPEC


def example_user_files(name: str) -> dict[str, str]:
    """The example's user code (rules, workers, tests), by its path in the project."""
    folder = examples_dir() / name
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and path.relative_to(folder).as_posix() not in _NOT_USER_CODE
        and not _CACHES.intersection(path.relative_to(folder).parts)
    }
