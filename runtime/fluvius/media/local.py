"""A media store in a folder on local disk: one file per key, written beside it, then renamed."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import anyio

READ_CHUNK = 256 * 1024
_PARTIAL = ".partial"


class LocalStore:
    """Keys are relative paths under `root`; a file appears under its key only once complete."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or _PARTIAL in path.parts:
            raise ValueError(f"'{key}' is not a media key")
        return path

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        path = self._path(key)
        partial = self.root / _PARTIAL / uuid.uuid4().hex
        await anyio.Path(partial.parent).mkdir(parents=True, exist_ok=True)
        await anyio.Path(path.parent).mkdir(parents=True, exist_ok=True)
        try:
            async with await anyio.open_file(partial, "wb") as file:
                async for chunk in chunks:
                    await file.write(chunk)
            await anyio.to_thread.run_sync(os.replace, partial, path)
        finally:
            await anyio.Path(partial).unlink(missing_ok=True)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._path(key), "rb") as file:
            await file.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = await file.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    async def size(self, key: str) -> int | None:
        try:
            return (await anyio.Path(self._path(key)).stat()).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)

    async def link(self, key: str, seconds: int) -> str | None:
        return None
