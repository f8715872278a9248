"""Media stores, on local disk and on an S3 server: streamed writes, ranged reads, refusals."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fluvius.media import MediaStore, TooLarge, open_store, receive

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(store: MediaStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


async def test_a_received_file_is_stored_hashed_and_typed_by_its_bytes(media_url: str) -> None:
    store = open_store(media_url)
    received = await receive(store, "a", _chunks(PDF), limit=len(PDF))
    assert received.size == len(PDF)
    assert received.sha256 == hashlib.sha256(PDF).hexdigest()
    assert received.content_type("image/png") == "application/pdf"  # the bytes win
    assert await store.size("a") == len(PDF)
    assert await _read(store, "a") == PDF
    assert await _read(store, "a", 5, 300) == PDF[5:300]
    assert await _read(store, "a", len(PDF) - 7) == PDF[-7:]
    await store.delete("a")
    assert await store.size("a") is None


async def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(media_url: str) -> None:
    store = open_store(media_url)
    with pytest.raises(TooLarge):
        await receive(store, "big", _chunks(PDF), limit=len(PDF) - 1)
    assert await store.size("big") is None


async def test_text_keeps_its_declared_type_and_unknown_bytes_are_octet_stream(
    media_url: str,
) -> None:
    store = open_store(media_url)
    received = await receive(store, "t", _chunks(b"just words"), limit=100)
    assert received.content_type("text/plain; charset=utf-8") == "text/plain"
    assert received.content_type("application/pdf") == "application/octet-stream"


async def test_a_key_cannot_leave_the_folder(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "media"))
    (tmp_path / "outside").write_bytes(b"secret")
    with pytest.raises(ValueError, match="not a media key"):
        await store.size("../outside")
    with pytest.raises(ValueError, match="not a media key"):
        await _read(store, "../outside")
