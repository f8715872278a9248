"""The corpus of good specs: each file in tests/spec/good is valid, edge cases included."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvius_cli.spec import check_file, check_text

GOOD = Path(__file__).parent / "good"
CASES = sorted(GOOD.glob("*.yaml"))


def test_there_are_good_specs() -> None:
    assert CASES


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_good_spec(path: Path) -> None:
    result = check_file(path)
    assert result.diagnostics == []
    assert result.spec is not None


def test_extension_keys_are_not_part_of_the_spec() -> None:
    spec = check_file(GOOD / "extension-keys.yaml").spec
    assert spec is not None
    assert set(spec.model_dump()) == {"fluvius", "project", "domains", "streams"}
    assert spec.streams == {}
    fields = spec.domains["sales"].aggregates["invoice"].fields
    assert (fields["total"].type, fields["total"].ge) == ("decimal", 0)
    assert fields["total"].description == "Kept for seven years."
    assert fields["owner"].max_length == 80


def test_only_top_level_keys_are_extensions() -> None:
    source = (GOOD / "extension-keys.yaml").read_text()
    nested = source.replace("project:\n", "project:\n  x-note: not here\n")
    line = nested[: nested.index("x-note")].count("\n") + 1
    assert [(d.code.number, d.position.line) for d in check_text(nested).diagnostics] == [
        ("FV101", line)
    ]
    upper = source.replace("x-tool-settings:", "X-tool-settings:")
    assert [d.code.number for d in check_text(upper).diagnostics] == ["FV101"]


def test_standard_tags_give_the_tagged_value() -> None:
    spec = check_file(GOOD / "yaml-tags.yaml").spec
    assert spec is not None
    fields = spec.domains["sales"].aggregates["cart"].fields
    assert fields["code"].default == "007"
    assert fields["label"].default == "12"
    assert fields["total"].ge == 0.0
