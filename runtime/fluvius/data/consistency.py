"""Consistency tokens: where a command's write sits, so a later read can wait until it sees it.

A command's reply carries its token (the `Consistency-Token` header); a read sent with it answers
only once what it reads includes that write. The token names the domain log and the checkpoint
just after the command's last event, and, on PostgreSQL, the primary's WAL position after the
commit, for replicas to compare with what they have replayed. It is opaque to clients: base64url
text that only this module reads and writes.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from fluvius.data.reader import Checkpoint

HEADER = "Consistency-Token"
_FIELDS = re.compile(
    r"1:([a-z][a-z0-9_]*):(\d{1,19}):(\d{1,19}):((?:[0-9A-F]{1,8}/[0-9A-F]{1,8})?)"
)


class InvalidConsistencyToken(ValueError):
    """A `Consistency-Token` that no reply of this service wrote."""


@dataclass(frozen=True)
class ConsistencyToken:
    """A write's place: its domain log's checkpoint and, on PostgreSQL, the commit's WAL LSN."""

    domain: str
    checkpoint: Checkpoint
    lsn: str | None = None

    def encode(self) -> str:
        """The token as a header value."""
        text = (
            f"1:{self.domain}:{self.checkpoint.transaction_id}:{self.checkpoint.position}:"
            f"{self.lsn or ''}"
        )
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> ConsistencyToken:
        """The token a header value holds; `InvalidConsistencyToken` for anything else."""
        try:
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidConsistencyToken(
                "the Consistency-Token is not one this service wrote"
            ) from None
        fields = _FIELDS.fullmatch(text)
        if fields is None:
            raise InvalidConsistencyToken("the Consistency-Token is not one this service wrote")
        domain, transaction_id, position, lsn = fields.groups()
        return cls(domain, Checkpoint(int(transaction_id), int(position)), lsn or None)
