"""Read a spec file into plain data, remembering where every key and value sits.

Hostile input is bounded here: the file size, the nesting depth and the number of values after
alias and merge expansion all have limits, and every failure is a located diagnostic, never an
exception.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.reader import ReaderError

from fluvius_cli.spec.diagnostics import START, Code, Diagnostic, Position

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 200_000

Path = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_MERGE_KEY = "<<"
_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# YAML 1.2 core schema, for plain (unquoted) scalars.
_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"([-+]?)\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")


@dataclass
class Document:
    """A parsed spec: plain data plus the position of every key and value in it."""

    file: str
    data: Any
    key_positions: dict[Path, Position] = field(default_factory=dict)
    value_positions: dict[Path, Position] = field(default_factory=dict)

    def value_at(self, path: Path) -> Position:
        """Where the value at `path` starts, or its nearest existing ancestor."""
        for end in range(len(path), -1, -1):
            found = self.value_positions.get(path[:end])
            if found is not None:
                return found
        return START

    def key_at(self, path: Path) -> Position:
        """Where the key that leads to `path` starts (the value's position if it has no key)."""
        return self.key_positions.get(path) or self.value_at(path)


class DocumentError(Exception):
    """The file cannot become a document; carries the single diagnostic that says why."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.text)
        self.diagnostic = diagnostic


def read_document(path: FilePath) -> Document:
    """Read and parse the spec at `path`; raise DocumentError with a located diagnostic."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _error(START, Code.FILE_NOT_FOUND, f"no such file: {path}") from None
    except IsADirectoryError:
        raise _error(
            START, Code.FILE_NOT_FOUND, f"{path} is a directory, not a spec file"
        ) from None
    except OSError as exc:
        raise _error(START, Code.FILE_NOT_FOUND, f"cannot read {path}: {exc.strerror}") from None
    return parse_document(raw, str(path))


def parse_document(raw: bytes, file: str) -> Document:
    """Parse spec bytes; `file` is only used to name the document."""
    if len(raw) > MAX_BYTES:
        raise _error(
            START,
            Code.TOO_LARGE,
            f"the file has {len(raw):,} bytes; a spec may have at most {MAX_BYTES:,} (4 MiB)",
        )
    text = _decode(raw)
    document = Document(file=file, data=None)
    document.data = _Builder(document, text).build()
    if document.data is None:
        raise _error(START, Code.EMPTY, "the file holds no spec; start with `fluvius: 1`")
    if not isinstance(document.data, dict):
        raise _error(
            document.value_at(()),
            Code.WRONG_TYPE,
            "the spec must be a mapping of keys (fluvius, project, domains)",
        )
    return document


def _decode(raw: bytes) -> str:
    body = raw.removeprefix(_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = _LINE_BREAK.split(body[: exc.start].decode("utf-8"))
        raise _error(
            Position(len(before), len(before[-1]) + 1),
            Code.NOT_UTF8,
            f"byte 0x{body[exc.start]:02x} is not UTF-8; save the spec as UTF-8 text",
        ) from None


@dataclass
class _Frame:
    """A mapping or list being built."""

    value: dict[str, Any] | list[Any]
    path: Path
    anchor: str | None
    size: int = 1
    key: str | None = None
    merging: bool = False
    merges: list[tuple[dict[str, Any], int]] = field(default_factory=list)


class _Builder:
    """Builds plain values from the YAML event stream, with an explicit stack.

    No recursion, so nesting cannot exhaust the C stack; depth, alias expansion and merges are
    counted as they happen, so no bomb is ever expanded.
    """

    def __init__(self, document: Document, text: str) -> None:
        self.text = text
        self.locate = _Locator(text)
        self.values = document.value_positions
        self.keys = document.key_positions
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.nodes = 0
        self.root: Any = None
        self.documents = 0

    def build(self) -> Any:
        text = self.text
        try:
            for event in YAML(typ="safe", pure=False).parse(text):
                self._take(event)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = self.locate(mark.index) if mark is not None else START
            problem = (
                " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
            )
            if "\t" in text and "cannot start any token" in problem:
                problem = "a tab character; YAML indents with spaces only"
            raise _error(where, Code.YAML_SYNTAX, problem) from None
        except ReaderError as exc:
            raise _error(
                self.locate(exc.position),
                Code.YAML_SYNTAX,
                f"control character #x{exc.character:04x} is not allowed in YAML text",
            ) from None
        except YAMLError as exc:
            raise _error(START, Code.YAML_SYNTAX, f"invalid YAML: {exc}") from None
        return self.root

    def _take(self, event: Any) -> None:
        where = self.locate(event.start_mark.index)
        if isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise _error(where, Code.YAML_SYNTAX, "a spec is one YAML document; found a second")
        elif isinstance(event, ScalarEvent):
            if self._expecting_key():
                self._key(event, where)
            else:
                self._attach(_scalar(event, where), 1, where, event.anchor)
        elif isinstance(event, MappingStartEvent | SequenceStartEvent):
            self._open(event, where)
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            self._close(where)
        elif isinstance(event, AliasEvent):
            self._alias(event, where)

    def _expecting_key(self) -> bool:
        top = self.stack[-1] if self.stack else None
        return (
            top is not None and isinstance(top.value, dict) and top.key is None and not top.merging
        )

    def _key(self, event: ScalarEvent, where: Position) -> None:
        frame = self.stack[-1]
        if event.tag not in (None, "!", f"{_CORE}str"):
            raise _error(where, Code.UNSUPPORTED_YAML, _tag_message(event.tag))
        key = str(event.value)
        if key == _MERGE_KEY and event.tag is None and not event.style:
            frame.merging = True
            return
        key_path = (*frame.path, key)
        if key_path in self.keys:
            first = self.keys[key_path]
            raise _error(
                where,
                Code.DUPLICATE_KEY,
                f"key '{key}' is repeated (first at line {first.line}, column {first.column})",
            )
        self.keys[key_path] = where
        frame.key = key

    def _open(self, event: Any, where: Position) -> None:
        collection = "map" if isinstance(event, MappingStartEvent) else "seq"
        if event.tag not in (None, "!", f"{_CORE}{collection}"):
            raise _error(where, Code.UNSUPPORTED_YAML, _tag_message(event.tag))
        if self._expecting_key():
            raise _error(where, Code.UNSUPPORTED_YAML, "keys must be plain names")
        if len(self.stack) >= MAX_DEPTH:
            raise _error(where, Code.TOO_LARGE, f"nesting deeper than {MAX_DEPTH} levels")
        path = self._child_path()
        self.values.setdefault(path, where)
        value: dict[str, Any] | list[Any] = {} if collection == "map" else []
        self.stack.append(_Frame(value, path, event.anchor))

    def _close(self, where: Position) -> None:
        frame = self.stack.pop()
        if isinstance(frame.value, dict):
            for source, size in frame.merges:
                for key, item in source.items():
                    if key not in frame.value:
                        frame.value[key] = item
                frame.size += size
        self._count(1, where)  # its items were counted as they were attached
        self._attach(frame.value, frame.size, where, frame.anchor, counted=True)

    def _alias(self, event: Any, where: Position) -> None:
        if any(frame.anchor == event.anchor for frame in self.stack):
            raise _error(
                where, Code.TOO_LARGE, f"alias *{event.anchor} refers to a value that contains it"
            )
        if event.anchor not in self.anchors:
            raise _error(where, Code.YAML_SYNTAX, f"alias *{event.anchor} has no anchor before it")
        if self._expecting_key():
            raise _error(where, Code.UNSUPPORTED_YAML, "keys must be plain names")
        value, size = self.anchors[event.anchor]
        self._attach(value, size, where, None)

    def _attach(
        self, value: Any, size: int, where: Position, anchor: str | None, *, counted: bool = False
    ) -> None:
        if not counted:
            self._count(size, where)
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.values.setdefault((), where)
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        if isinstance(frame.value, list):
            self.values.setdefault((*frame.path, len(frame.value)), where)
            frame.value.append(value)
        elif frame.merging:
            frame.merging = False
            frame.merges.extend(_merge_sources(value, size, where))
        else:
            assert frame.key is not None
            self.values.setdefault((*frame.path, frame.key), where)
            frame.value[frame.key] = value
            frame.key = None

    def _child_path(self) -> Path:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            return (*frame.path, len(frame.value))
        return (*frame.path, frame.key) if frame.key is not None else frame.path

    def _count(self, size: int, where: Position) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            raise _error(
                where,
                Code.TOO_LARGE,
                f"the spec expands to more than {MAX_NODES:,} values (aliases and merges included)",
            )


def _merge_sources(value: Any, size: int, where: Position) -> list[tuple[dict[str, Any], int]]:
    sources = value if isinstance(value, list) else [value]
    if not all(isinstance(source, dict) for source in sources):
        raise _error(where, Code.UNSUPPORTED_YAML, "`<<` merges mappings only")
    return [(source, size) for source in sources]


def _scalar(event: ScalarEvent, where: Position) -> Any:
    value: str = event.value
    tag = event.tag
    if tag is None:
        return _resolve_plain(value) if not event.style else value
    if tag in ("!", f"{_CORE}str"):
        return value
    kind = tag.removeprefix(_CORE)
    if kind not in _EXPLICIT:
        raise _error(where, Code.UNSUPPORTED_YAML, _tag_message(tag))
    resolved = _resolve_plain(value)
    if not _EXPLICIT[kind](resolved):
        raise _error(where, Code.UNSUPPORTED_YAML, f"'{value}' is not a valid !!{kind}")
    return float(resolved) if kind == "float" else resolved


# What an explicitly tagged scalar must resolve to.
_EXPLICIT = {
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "float": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "bool": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _tag_message(tag: str) -> str:
    shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
    return f"tag '{shown}' is not supported; specs use plain YAML values"


def parse_scalar(text: str) -> Any:
    """`text` as a plain (unquoted) YAML scalar: null, true/false, a number, or text."""
    return _resolve_plain(text)


def _resolve_plain(value: str) -> Any:
    if _NULL.fullmatch(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.fullmatch(value):
        return int(value)
    if _OCT.fullmatch(value):
        return int(value[2:], 8)
    if _HEX.fullmatch(value):
        return int(value[2:], 16)
    if _FLOAT.fullmatch(value):
        return float(value)
    if match := _INF.fullmatch(value):
        return float("-inf") if match.group(1) == "-" else float("inf")
    if _NAN.fullmatch(value):
        return float("nan")
    return value


class _Locator:
    """Positions of character offsets, with YAML 1.2's line breaks only (LF, CRLF, CR)."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]

    def __call__(self, offset: int) -> Position:
        line = bisect.bisect_right(self.starts, offset)
        return Position(line, offset - self.starts[line - 1] + 1)


def _error(position: Position, code: Code, message: str) -> DocumentError:
    return DocumentError(Diagnostic(position, code, message))
