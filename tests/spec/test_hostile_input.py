"""Hostile input: whatever the bytes, checking returns located diagnostics and never raises."""

from __future__ import annotations

import codecs
import random
import subprocess
import sys
from typing import Any

import pytest

from fluvius_cli.spec import CheckResult, Position, check_text
from fluvius_cli.spec.document import MAX_BYTES, MAX_DEPTH, MAX_NODES, parse_document


def located(source: str | bytes) -> CheckResult:
    """Check `source` and assert it was refused with located, explained diagnostics."""
    result = check_text(source)
    assert result.spec is None
    assert result.diagnostics
    for diagnostic in result.diagnostics:
        assert diagnostic.position.line >= 1
        assert diagnostic.position.column >= 1
        assert diagnostic.message.strip()
    return result


def found(source: str | bytes) -> list[tuple[str, int, int]]:
    """The (code, line, column) of every diagnostic of `source`."""
    return [
        (d.code.number, d.position.line, d.position.column) for d in located(source).diagnostics
    ]


def laughs(levels: int, item: str = "lol") -> str:
    """A "billion laughs": each level is ten aliases of the level below."""
    lines = [f"l0: &l0 [{', '.join([item] * 10)}]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def merges(levels: int) -> str:
    """Laughs made of merge keys: each level merges ten copies of the level below."""
    lines = ["l0: &l0 {}"]
    lines += [f"l{n}: &l{n} {{<<: [{', '.join([f'*l{n - 1}'] * 10)}]}}" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "source",
    [b"", b"# only\n# comments\n", b"   \n\n", b"---\n...\n", b"\xef\xbb\xbf", b"~\n", b"null"],
    ids=["empty", "comments", "blank", "empty-document", "bom-only", "tilde", "null"],
)
def test_nothing_in_the_file(source: bytes) -> None:
    assert found(source) == [("FV006", 1, 1)]


def test_random_binary() -> None:
    noise = random.Random(20240601).randbytes(4096)
    assert found(noise)[0][0] in {"FV002", "FV003"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b"fluvius: 1\x00\n", ("FV003", 1, 11)),
        (b"\x00" * 64, ("FV003", 1, 1)),
        (b"fluvius: 1\nproject:\n  name: \x07bell\n", ("FV003", 3, 9)),
    ],
    ids=["nul-after-value", "only-nul", "bell"],
)
def test_control_characters(source: bytes, expected: tuple[str, int, int]) -> None:
    assert found(source) == [expected]


def _first_bad_byte(source: bytes) -> int:
    body = source.removeprefix(codecs.BOM_UTF8)
    try:
        body.decode()
    except UnicodeDecodeError as exc:
        return body[exc.start]
    raise AssertionError("the source is valid UTF-8")


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        (b"\xff", 1, 1),
        (b"fluvius: 1\nproject:\n  name: caf\xe9\n", 3, 12),
        (b"fluvius: 1\r\nproject:\r\n  name: caf\xe9\r\n", 3, 12),
        (b"name: \xe2\x82", 1, 7),
        ("name: é".encode() + b"\xff\n", 1, 8),
        ("a: 😀 ü".encode() + b"\xff\n", 1, 7),
        (b"\xef\xbb\xbfa: 1\n\xff\n", 2, 1),
        (b"\xef\xbb\xbf\xff", 1, 1),
        (b"fluvius: 1\rproject:\r  name: caf\xe9\r", 3, 12),
        (b"a: 1\r\nb: 2\rc: 3\nd: \xe9", 4, 4),
    ],
    ids=[
        "only-byte",
        "latin1",
        "crlf",
        "truncated",
        "after-multibyte",
        "after-astral",
        "after-bom",
        "bom-then-bad-byte",
        "cr-lines",
        "mixed-line-ends",
    ],
)
def test_invalid_utf8_names_the_bad_byte(source: bytes, line: int, column: int) -> None:
    [diagnostic] = located(source).diagnostics
    where = diagnostic.position
    assert (diagnostic.code.number, where.line, where.column) == ("FV002", line, column)
    assert f"0x{_first_bad_byte(source):02x}" in diagnostic.message


def test_file_over_the_size_limit() -> None:
    [diagnostic] = located(b"#" * (MAX_BYTES + 1)).diagnostics
    assert (diagnostic.code.number, diagnostic.position) == ("FV005", Position(1, 1))
    assert diagnostic.message == (
        "the file has 4,194,305 bytes; a spec may have at most 4,194,304 (4 MiB)"
    )


def test_file_at_the_size_limit_is_read() -> None:
    assert found(b"#" * MAX_BYTES) == [("FV006", 1, 1)]


# Nesting is counted in levels, the root being level 1: MAX_DEPTH levels are read, and the
# collection that would open level MAX_DEPTH + 1 is refused where it starts: its bracket, its
# dash, or the first key of a block mapping.
@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("x: " + "[" * 1000 + "]" * 1000, (1, 4 + MAX_DEPTH - 1)),
        ("x: " + "[" * 1000, (1, 4 + MAX_DEPTH - 1)),
        ("- " * 100 + "x\n", (1, 1 + 2 * MAX_DEPTH)),
        ("{a: " * 100 + "}" * 100, (1, 1 + 4 * MAX_DEPTH)),
        (
            "".join(f"{'  ' * n}a:\n" for n in range(100)) + "  " * 100 + "x\n",
            (MAX_DEPTH + 1, 1 + 2 * MAX_DEPTH),
        ),
    ],
    ids=["flow-lists", "unclosed-flow-lists", "block-lists", "flow-mappings", "block-mappings"],
)
def test_deep_nesting(source: str, position: tuple[int, int]) -> None:
    [diagnostic] = located(source).diagnostics
    where = diagnostic.position
    assert (diagnostic.code.number, where.line, where.column) == ("FV005", *position)
    assert diagnostic.message == f"nesting deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize(
    "source",
    [
        "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1),
        "- " * MAX_DEPTH + "x\n",
        "{a: " * MAX_DEPTH + "}" * MAX_DEPTH,
    ],
    ids=["flow-lists", "block-lists", "flow-mappings"],
)
def test_nesting_at_the_limit_is_read(source: str) -> None:
    assert "FV005" not in {code for code, *_ in found(source)}


@pytest.mark.parametrize(
    "source",
    ["[" * 100_000 + "]" * 100_000, "- " * 100_000 + "x", "{a: " * 100_000 + "}" * 100_000],
    ids=["flow-lists", "block-lists", "flow-mappings"],
)
def test_very_deep_nesting_does_not_crash_the_process(source: str) -> None:
    # In a child process: a crash of the C stack would take the test run down with it.
    program = (
        "import sys\n"
        "from fluvius_cli.spec import check_text\n"
        "print(*{d.code.number for d in check_text(sys.stdin.read()).diagnostics})"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], input=source, capture_output=True, text=True, check=False
    )
    assert (run.returncode, run.stdout.strip()) == (0, "FV005")


@pytest.mark.parametrize(
    "source",
    [laughs(9), laughs(9, item="{a: b}"), "x: &x [*x]\n", "x: &x {y: *x}\n"],
    ids=["billion-laughs", "laughs-of-mappings", "self-list", "self-mapping"],
)
def test_alias_expansion_is_refused(source: str) -> None:
    assert [code for code, *_ in found(source)] == ["FV005"]


@pytest.mark.parametrize(
    "source",
    [
        "x: &x {<<: *x}\n",
        "x: &x {<<: [{a: 1}, *x]}\n",
        "x: &x {y: {<<: *x}}\n",
        merges(6),
        merges(12),
    ],
    ids=[
        "self-merge",
        "self-in-merge-list",
        "merge-of-a-parent",
        "merge-bomb",
        "bigger-merge-bomb",
    ],
)
def test_merge_expansion_is_refused(source: str) -> None:
    assert [code for code, *_ in found(source)] == ["FV005"]


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("x: &x [*x]\n", (1, 8)),
        ("x: &x {y: *x}\n", (1, 11)),
        ("x: &x {<<: *x}\n", (1, 12)),
        ("a: &a [1]\nx: &x {y: [*a, {z: *x}]}\n", (2, 20)),
    ],
    ids=["self-list", "self-mapping", "self-merge", "deep-self"],
)
def test_recursive_alias_is_refused_at_the_alias(source: str, position: tuple[int, int]) -> None:
    [diagnostic] = located(source).diagnostics
    where = diagnostic.position
    assert (diagnostic.code.number, where.line, where.column) == ("FV005", *position)
    assert diagnostic.message == "alias *x refers to a value that contains it"


def test_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() -> None:
    # l0 to l4 expand to 123,455 values; the first *l4 in l5 adds 111,111 more.
    [diagnostic] = located(laughs(9)).diagnostics
    where = diagnostic.position
    assert (diagnostic.code.number, where.line, where.column) == ("FV005", 6, 10)
    assert diagnostic.message == (
        f"the spec expands to more than {MAX_NODES:,} values (aliases and merges included)"
    )


def test_expansion_just_under_the_limit_is_read() -> None:
    # l0 to l4 expand to 123,455 values: under the limit.
    assert "FV005" not in {code for code, *_ in found(laughs(5))}


def test_undefined_alias() -> None:
    [diagnostic] = located("fluvius: 1\nproject: *nowhere\n").diagnostics
    where = diagnostic.position
    assert (diagnostic.code.number, where.line, where.column) == ("FV003", 2, 10)
    assert diagnostic.message == "alias *nowhere has no anchor before it"


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("fluvius: 1\n---\nfluvius: 1\n", (2, 1)),
        ("--- {fluvius: 1}\n--- {fluvius: 1}\n", (2, 1)),
        ("fluvius: 1\n...\n---\n", (3, 1)),
    ],
    ids=["two-documents", "two-explicit-documents", "empty-second-document"],
)
def test_second_document(source: str, position: tuple[int, int]) -> None:
    [diagnostic] = located(source).diagnostics
    where = diagnostic.position
    assert (diagnostic.code.number, where.line, where.column) == ("FV003", *position)
    assert diagnostic.message == "a spec is one YAML document; found a second"


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("x: !!python/object:os.system {a: 1}\n", (1, 4)),
        ("x: !!python/object/apply:os.system [ls]\n", (1, 4)),
        ("x: !!set {a: null}\n", (1, 4)),
        ("x: !!omap [{a: 1}]\n", (1, 4)),
        ("x: !env [a]\n", (1, 4)),
        ("x:\n  - !!binary aGk=\n", (2, 5)),
        ("x: !!timestamp 2024-01-01\n", (1, 4)),
        ("x: !!int one\n", (1, 4)),
        ("x: !!float one\n", (1, 4)),
        ("x: !!bool yes\n", (1, 4)),
        ("x: !!null no\n", (1, 4)),
        ("x: !!int 1.5\n", (1, 4)),
    ],
)
def test_unsupported_tags(source: str, position: tuple[int, int]) -> None:
    assert found(source) == [("FV007", *position)]


@pytest.mark.parametrize(
    ("tagged", "value"),
    [
        ("!!str 1", "1"),
        ("!!str true", "true"),
        ("!!str ~", "~"),
        ("! 1", "1"),
        ("!<tag:yaml.org,2002:str> 1", "1"),
        ("!!int 7", 7),
        ("!!int 0x1F", 31),
        ("!!float 1", 1.0),
        ("!!float .5", 0.5),
        ("!!bool false", False),
        ("!!null ~", None),
        ("!!seq [a]", ["a"]),
        ("!!map {a: b}", {"a": "b"}),
    ],
)
def test_standard_tags_are_honoured(tagged: str, value: Any) -> None:
    document = parse_document(f"fluvius: 1\nx-value: {tagged}\n".encode(), "fluvius.yaml")
    assert document.data["x-value"] == value
    assert type(document.data["x-value"]) is type(value)


def test_unicode_line_separator_inside_text_is_not_a_line_break() -> None:
    source = 'project: {name: shop, description: "one\u2028two"}\nfluvius: 2\n'
    assert ("FV106", 2, 10) in found(source)
