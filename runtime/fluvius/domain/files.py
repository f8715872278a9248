"""File fields: sizes, content-type patterns, and the metadata a file field holds.

A command's `file` field takes the id of an upload (`POST /media`); the command processor checks the
upload against the field's `FileRule` and puts its `FileInfo` in the command, so that the events and
the state record the file's metadata, never its bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

_SIZE = re.compile(r"\s*([0-9]+)\s*([kKmMgGtT]i?[bB]|[bB])?\s*")
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)")
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def parse_size(value: int | str) -> int:
    """A size in bytes: a whole number, or text such as `10MB`, `512kB`, `1GiB` (ValueError)."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or text such as 10MB")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a size is a positive number of bytes")
        return value
    match = _SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"'{value}' is not a size; write bytes, or a number with kB, MB, GB, MiB")
    number, unit = int(match[1]), (match[2] or "").lower()
    scale = 1024 ** ("kmgt".index(unit[0]) + 1) if unit.endswith("ib") else _UNITS[unit[:1]]
    if number <= 0:
        raise ValueError("a size is a positive number of bytes")
    return number * scale


def content_type_problem(pattern: str) -> str | None:
    """Why `pattern` is not a content type (`type/subtype` or `type/*`, lower case), or None."""
    if _CONTENT_TYPE.fullmatch(pattern):
        return None
    return f"'{pattern}' is not a content type; write type/subtype or type/*, in lower case"


def matches(content_type: str, patterns: tuple[str, ...]) -> bool:
    """Whether `content_type` is one of `patterns` (where `image/*` stands for any image)."""
    essence = content_type.split(";", 1)[0].strip().lower()
    major = essence.split("/", 1)[0]
    return any(pattern in (essence, f"{major}/*") for pattern in patterns)


@dataclass(frozen=True)
class FileRule:
    """What a file field accepts: at most `max_size` bytes (None: the service's upload limit),
    and a content type among `content_types` (empty: any)."""

    max_size: int | None = None
    content_types: tuple[str, ...] = ()

    def accepts_type(self, content_type: str) -> bool:
        return not self.content_types or matches(content_type, self.content_types)


class FileInfo(BaseModel):
    """A stored file as events and state record it. Until the command processor resolves the
    upload, only `id` is known (`resolved` is False)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str | None = None
    size: int | None = None
    sha256: str | None = None
    content_type: str | None = None

    @property
    def resolved(self) -> bool:
        return self.sha256 is not None


def _upload_id(value: Any) -> Any:
    if isinstance(value, FileInfo):
        return value
    if not isinstance(value, str) or not _UUID_TEXT.fullmatch(value):
        raise ValueError("expected the id of an upload (POST /media), as a UUID")
    return FileInfo(id=value.lower())


Upload = Annotated[
    FileInfo,
    BeforeValidator(_upload_id),
    WithJsonSchema(
        {"type": "string", "format": "uuid", "description": "The id of an upload (POST /media)."}
    ),
]
"""A command's file field: the upload's id in JSON, its FileInfo once the processor resolves it."""


def file_fields(model: type[BaseModel]) -> list[str]:
    """The fields of `model` that hold a file's metadata."""
    return [
        name
        for name, info in model.model_fields.items()
        if info.annotation is FileInfo or FileInfo in get_args(info.annotation)
    ]
