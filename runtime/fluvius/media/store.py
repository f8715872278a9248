"""Where file bytes live: the interface every media store offers, and the store a URL names."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit


class MediaStore(Protocol):
    """Bytes by key, written and read as streams."""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        """Store `chunks` under `key`; nothing is left under `key` when `chunks` raises."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of `key` from `start` up to `end` (exclusive; None: to the end)."""
        ...

    async def size(self, key: str) -> int | None:
        """How many bytes `key` holds; None when it does not exist."""

    async def delete(self, key: str) -> None:
        """Forget `key` (nothing happens when it does not exist)."""

    async def link(self, key: str, seconds: int) -> str | None:
        """A URL that serves `key` for `seconds`, where the store can sign one; else None."""


def open_store(url: str) -> MediaStore:
    """The store `url` names: `s3://bucket/prefix?endpoint=...&region=...` (the `s3` extra),
    or a folder (a path, or a `file://` URL)."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from fluvius.media.s3 import S3Store

        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return S3Store(parts.netloc, parts.path.strip("/"), options)
    from fluvius.media.local import LocalStore

    return LocalStore(Path(parts.path if parts.scheme == "file" else url))
