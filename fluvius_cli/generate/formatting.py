"""Generated Python, formatted as its project's ruff would: imports sorted, code formatted."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ruff.__main__ import find_ruff_bin

LINE_LENGTH = 100
TARGET = "py311"


class FormattingError(RuntimeError):
    """ruff could not format the generated code (a template produced invalid Python)."""


def format_python(files: dict[str, str], first_party: str) -> dict[str, str]:
    """`files` (path -> source), with imports sorted and code formatted; other files unchanged."""
    return _with_ruff(files, first_party, reformat=True)


def sort_imports(files: dict[str, str], first_party: str) -> dict[str, str]:
    """`files` with their import blocks sorted, and every other line left as it is."""
    return _with_ruff(files, first_party, reformat=False)


def _with_ruff(files: dict[str, str], first_party: str, *, reformat: bool) -> dict[str, str]:
    python = {path: text for path, text in files.items() if path.endswith(".py")}
    if not python:
        return dict(files)
    settings = ["--isolated", "--line-length", str(LINE_LENGTH), "--target-version", TARGET]
    isort = ["check", "--select", "I", "--fix", "--exit-zero", "--quiet"]
    first_party_option = ["--config", f"lint.isort.known-first-party = ['{first_party}']"]
    with tempfile.TemporaryDirectory(prefix="fluvius-format-") as scratch:
        root = Path(scratch)
        for path, text in python.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _ruff([*isort, *settings, *first_party_option, str(root)])
        if reformat:
            _ruff(["format", "--quiet", *settings, str(root)])
        formatted = {path: (root / path).read_text(encoding="utf-8") for path in python}
    return {**files, **formatted}


def _ruff(arguments: list[str]) -> None:
    result = subprocess.run(
        [find_ruff_bin(), *arguments], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise FormattingError(result.stderr.strip() or result.stdout.strip())
