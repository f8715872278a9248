"""Checks of the revisions fluvius wrote into a project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def assert_revisions_clean(root: Path, *, count: int) -> None:
    """The project holds `count` revisions, which pass ruff as the project configures it."""
    revisions = sorted(str(path) for path in (root / "migrations" / "versions").glob("*.py"))
    assert len(revisions) == count, revisions
    for linter in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *linter, *revisions],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"ruff {' '.join(linter)}:\n{result.stdout}{result.stderr}"
