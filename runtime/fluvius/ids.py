"""UUIDv7 identifiers: time-ordered, so ids sort in creation order and index well."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = (0, 0)  # (millisecond, counter) of the previous id


def uuid7() -> uuid.UUID:
    """A new UUIDv7 (RFC 9562), monotonic within this process."""
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, counter = _last
        if millis <= last_millis:
            millis, counter = last_millis, counter + 1
            if counter > 0xFFF:  # the counter ran out: borrow the next millisecond
                millis, counter = millis + 1, 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        _last = (millis, counter)
    random_tail = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | counter << 64
    value |= 0b10 << 62 | random_tail
    return uuid.UUID(int=value)
