"""HTTP Range requests (RFC 9110 14.1) on a file of known size: one range of bytes."""

from __future__ import annotations

import re

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Unsatisfiable(ValueError):
    """The range lies outside the file: 416."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The [start, end) bytes that `header` asks of a file of `size` bytes; None for the whole
    file (no header, or a form served whole, such as several ranges)."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match[1], match[2]
    if not first:
        if not last or int(last) == 0:
            raise Unsatisfiable(header)
        return max(size - int(last), 0), size
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range: ignored
    if start >= size:
        raise Unsatisfiable(header)
    return start, min(int(last) + 1, size) if last else size
