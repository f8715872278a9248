"""Text compared byte by byte, as SQLite does, on PostgreSQL too.

PostgreSQL orders and case-folds text by the database's locale; under its "C" collation it orders
by bytes and lower() folds only ASCII letters, exactly as SQLite does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

_COLLATION = {"postgresql": "C"}


def bytewise(expression: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """`expression` (text) under the collation of `dialect` that compares bytes."""
    collation = _COLLATION.get(dialect)
    return expression.collate(collation) if collation else expression
