"""The corpus of bad specs: each file states, in its header comments, what checking it reports.

# xfail: why the checker does not do this yet   (optional; marks a known bug)
# expect: FV301 19:20                           (one per diagnostic, in position order)
# suggest: cart-opened                          (the "did you mean" of the expect above it)

The header ends at the first other line; a plain comment after it may say what the file shows,
such as a code that must not be reported.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from fluvius_cli.spec import Code, Diagnostic, check_file

BAD = Path(__file__).parent / "bad"
HEADER = re.compile(r"# (xfail|expect|suggest): (.+)")
EXPECT = re.compile(r"(FV\d{3}) (\d+):(\d+)")


@dataclass(frozen=True)
class Expected:
    code: str
    line: int
    column: int
    suggestion: str | None = None

    @classmethod
    def of(cls, diagnostic: Diagnostic) -> Expected:
        where = diagnostic.position
        return cls(diagnostic.code.number, where.line, where.column, diagnostic.suggestion)


@dataclass(frozen=True)
class Case:
    path: Path
    expected: tuple[Expected, ...]
    xfail: str | None = None


def read_case(path: Path) -> Case:
    """The header of a corpus file: the comment lines before anything else."""
    expected: list[Expected] = []
    xfail = None
    for line in path.read_bytes().decode("ascii", errors="replace").splitlines():
        header = HEADER.fullmatch(line.strip())
        if header is None:
            break
        kind, value = header.groups()
        if kind == "xfail":
            xfail = value
        elif kind == "expect":
            found = EXPECT.fullmatch(value)
            assert found is not None, f"{path.name}: bad expect line {line!r}"
            code, row, column = found.groups()
            expected.append(Expected(code, int(row), int(column)))
        else:
            assert expected, f"{path.name}: '# suggest:' must follow an '# expect:' line"
            expected[-1] = dataclasses.replace(expected[-1], suggestion=value)
    return Case(path, tuple(expected), xfail)


CASES = [read_case(path) for path in sorted(BAD.glob("*.yaml"))]


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.path.stem, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_spec(case: Case) -> None:
    assert case.expected, f"{case.path.name} has no '# expect:' line"
    result = check_file(case.path)
    assert [Expected.of(d) for d in result.diagnostics] == list(case.expected)
    assert result.spec is None
    assert result.file == str(case.path)
    for diagnostic in result.diagnostics:
        assert diagnostic.message.strip()
        if diagnostic.suggestion is not None:
            assert f"did you mean '{diagnostic.suggestion}'" in diagnostic.text


def test_corpus_covers_every_code() -> None:
    covered = {expected.code for case in CASES for expected in case.expected}
    # FV001 needs a file that cannot be read; FV4xx compare two versions of a spec (migrations);
    # FV5xx are about the project's Python code.
    from_a_file = {
        code.number
        for code in Code
        if code is not Code.FILE_NOT_FOUND and not code.number.startswith(("FV4", "FV5"))
    }
    assert from_a_file - covered == set()
    assert len(CASES) >= 45


@pytest.mark.parametrize("name", ["missing.yaml", "."], ids=["missing", "directory"])
def test_unreadable_file(tmp_path: Path, name: str) -> None:
    result = check_file(tmp_path / name)
    assert [Expected.of(d) for d in result.diagnostics] == [Expected("FV001", 1, 1)]
    assert result.diagnostics[0].message.strip()
