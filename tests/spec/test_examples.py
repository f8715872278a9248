"""Every example spec is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvius_cli.spec import check_file

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/fluvius.yaml"))


def test_there_are_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.parent.name for path in EXAMPLES])
def test_example_is_valid(path: Path) -> None:
    result = check_file(path)
    assert result.diagnostics == []
    assert result.spec is not None
    assert result.spec.domains
