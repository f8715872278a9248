"""Receiving a file: its bytes go to the store as they arrive, hashed and counted on the way, and
its content type is read from its first bytes (the magic number), not taken from the client."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import puremagic

from fluvius.media.store import MediaStore

SNIFF_BYTES = 8192
UNKNOWN_TYPE = "application/octet-stream"
# Types that no magic number marks: taken from the client, when it says so.
_UNMARKED = ("text/", "application/json", "application/xml")


class TooLarge(Exception):
    """The body went over the limit; nothing of it is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is over {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Received:
    """What was stored: how many bytes, their sha256, and the type their magic number shows."""

    size: int
    sha256: str
    magic_type: str | None

    def content_type(self, declared: str | None) -> str:
        """The file's type: the one its bytes show, else `declared` if it names a type without
        a magic number (text), else application/octet-stream."""
        if self.magic_type:
            return self.magic_type
        essence = (declared or "").split(";", 1)[0].strip().lower()
        return essence if essence.startswith(_UNMARKED) else UNKNOWN_TYPE


async def receive(
    store: MediaStore,
    key: str,
    chunks: AsyncIterable[bytes],
    *,
    limit: int,
) -> Received:
    """Stream `chunks` into `store` under `key`, refusing (TooLarge) as soon as they pass
    `limit` bytes."""
    digest = hashlib.sha256()
    head = bytearray()
    size = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge(limit)
            digest.update(chunk)
            if len(head) < SNIFF_BYTES:
                head.extend(chunk[: SNIFF_BYTES - len(head)])
            yield chunk

    try:
        await store.put(key, counted())
    except BaseException:
        await store.delete(key)
        raise
    return Received(size, digest.hexdigest(), magic_type(bytes(head)))


def magic_type(head: bytes) -> str | None:
    """The content type that `head`, a file's first bytes, shows by its magic number."""
    if not head:
        return None
    try:
        return str(puremagic.from_string(head, mime=True)) or None
    except puremagic.PureError:
        return None
