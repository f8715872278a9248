"""The runtime's layers hold: import-linter checks the contracts of pyproject.toml, and the
layer table of docs/architecture.md lists exactly the layers those contracts enforce."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _contract_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return [{name.strip() for name in re.split(r"[|:]", layer)} for layer in layers]


def _documented_layers() -> list[set[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [set(re.findall(r"`(fluvius[\w.]*)`", row.split("|")[1])) for row in rows]


def test_the_runtime_imports_only_downwards() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_architecture_page_lists_the_enforced_layers() -> None:
    assert _documented_layers() == _contract_layers()
