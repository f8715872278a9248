"""`fluvius check` and its output formats, driven through the real CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fluvius.cli import application
from fluvius_cli.spec import Code, check_file

app = application()
ROOT = Path(__file__).parents[2]
BANK = ROOT / "examples" / "bank" / "fluvius.yaml"
MISSPELT = Path(__file__).parent / "bad" / "fv101-misspelt-domains.yaml"
TEXT_LINE = re.compile(
    r"(?P<file>.+):(?P<line>\d+):(?P<column>\d+): (?P<code>FV\d{3}) (?P<text>.+)"
)
# Errors of both passes (shape, then rules), declared out of position order on purpose.
MANY_ERRORS = """\
fluvius: 1
project:
  name: My-Shop
domains:
  sales:
    workers:
      nightly: {cron: '0 25 * * *'}
      remind: {on: cart-opened, retries: 30}
    aggregates:
      cart:
        fields:
          total: {type: decimal, max_lenght: 5}
        commands:
          open-cart:
            emits: cart-opend
        events:
          cart-opened: {}
"""


def check(*args: str) -> Result:
    return CliRunner().invoke(app, ["check", *args])


def positions(result: Result) -> list[tuple[int, int, str]]:
    """(line, column, code) of every text diagnostic in the output."""
    found = [TEXT_LINE.fullmatch(line) for line in result.stdout.splitlines()]
    assert all(found), result.stdout
    return [(int(m["line"]), int(m["column"]), m["code"]) for m in found if m]


def test_valid_spec_passes() -> None:
    result = check(str(BANK))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no errors" in result.stderr


def test_text_lines_name_file_position_code_and_message() -> None:
    result = check(str(MISSPELT))
    assert result.exit_code == 1
    expected = [
        f"{MISSPELT}:{d.position.line}:{d.position.column}: {d.code.number} {d.text}"
        for d in check_file(MISSPELT).diagnostics
    ]
    assert result.stdout.splitlines() == expected
    assert "did you mean 'domains'?" in result.stdout
    assert "2 errors" in result.stderr


def test_json_format() -> None:
    result = check(str(MISSPELT), "--format", "json")
    assert result.exit_code == 1
    reported = json.loads(result.stdout)
    assert reported == [
        {
            "file": str(MISSPELT),
            "line": d.position.line,
            "column": d.position.column,
            "code": d.code.number,
            "name": d.code.slug,
            "message": d.message,
            "suggestion": d.suggestion,
        }
        for d in check_file(MISSPELT).diagnostics
    ]
    assert [item["suggestion"] for item in reported] == [None, "domains"]


def test_json_format_of_a_valid_spec_is_an_empty_list() -> None:
    result = check(str(BANK), "-f", "JSON")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


def test_sarif_format() -> None:
    result = check(str(MISSPELT), "--format", "sarif")
    assert result.exit_code == 1
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    [run] = sarif["runs"]
    rules: list[dict[str, Any]] = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [code.number for code in Code]
    assert all(rule["shortDescription"]["text"] for rule in rules)
    located = []
    for item in run["results"]:
        assert rules[item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["message"]["text"]
        [location] = item["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == str(MISSPELT)
        region = physical["region"]
        located.append((region["startLine"], region["startColumn"], item["ruleId"]))
    expected = [
        (d.position.line, d.position.column, d.code.number)
        for d in check_file(MISSPELT).diagnostics
    ]
    assert located == expected


def test_default_file_is_fluvius_yaml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(MISSPELT, tmp_path / "fluvius.yaml")
    assert positions(check()) == [(4, 1, "FV102"), (7, 1, "FV101")]
    shutil.copy(BANK, tmp_path / "fluvius.yaml")
    assert check().exit_code == 0


def test_missing_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = check()
    assert result.exit_code == 1
    assert result.stdout.startswith("fluvius.yaml:1:1: FV001 ")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = check(str(missing))
    assert result.exit_code == 1
    assert positions(result) == [(1, 1, "FV001")]
    assert str(missing) in result.stdout


def test_unknown_format_is_a_usage_error() -> None:
    result = check(str(BANK), "--format", "xml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--format" in result.stderr


def test_every_error_is_reported_in_position_order(tmp_path: Path) -> None:
    spec = tmp_path / "fluvius.yaml"
    spec.write_text(MANY_ERRORS)
    result = check(str(spec))
    assert result.exit_code == 1
    assert positions(result) == [
        (3, 9, "FV201"),
        (7, 23, "FV308"),
        (8, 42, "FV104"),
        (10, 7, "FV312"),
        (12, 34, "FV101"),
        (15, 20, "FV301"),
    ]
    assert "6 errors" in result.stderr
