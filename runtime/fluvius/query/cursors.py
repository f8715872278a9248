"""Cursors: opaque base64url tokens holding the sort-key values of the last row of a page.

A token is a digest then the JSON of those values. The digest covers the values and what the
cursor was issued for (table, filter, order), so a damaged cursor, or one issued for another
query= or sort=, is refused. It is not a secret: a cursor crafted by hand that passes is only a
position in the order, and its values are checked and converted like any query value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Table

from fluvius.query.errors import QueryError, refuse
from fluvius.query.sorting import SortKey
from fluvius.query.values import to_json, to_python

DIGEST_SIZE = 12


def cursor_context(table: Table, query: Mapping[str, Any], keys: Sequence[SortKey]) -> bytes:
    """What a cursor is bound to: the table, the parsed filter and the order."""
    bound = [table.name, query, [str(key) for key in keys]]
    return json.dumps(bound, sort_keys=True, separators=(",", ":"), default=str).encode()


def encode_cursor(context: bytes, keys: Sequence[SortKey], row: Mapping[str, Any]) -> str:
    """The cursor of the rows after `row` in the order of `keys`."""
    values = [to_json(key.field, row[key.name]) for key in keys]
    payload = json.dumps(values, separators=(",", ":")).encode()
    token = _digest(context, payload) + payload
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def decode_cursor(token: str, context: bytes, keys: Sequence[SortKey]) -> list[Any]:
    """The sort-key values held by `token`, typed as their fields; QueryError if it is not valid."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except ValueError:  # binascii.Error included
        raise _invalid() from None
    digest, payload = raw[:DIGEST_SIZE], raw[DIGEST_SIZE:]
    if not hmac.compare_digest(digest, _digest(context, payload)):
        raise _invalid()
    try:
        values = json.loads(payload, parse_float=Decimal)
        if not isinstance(values, list) or len(values) != len(keys):
            raise _invalid()
        return [_value(key, value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, RecursionError):  # InvalidValue included
        raise _invalid() from None


def _value(key: SortKey, value: Any) -> Any:
    if value is None and key.field.nullable:
        return None
    return to_python(key.field, value)


def _digest(context: bytes, payload: bytes) -> bytes:
    # The context is compact JSON, which holds no raw newline: the first one ends it.
    return hashlib.blake2b(context + b"\n" + payload, digest_size=DIGEST_SIZE).digest()


def _invalid() -> QueryError:
    return refuse(
        "invalid-cursor",
        "cursor",
        "cursor= is damaged, or was issued for another query= or sort=; "
        "list again without a cursor to get a fresh one",
    )
