"""The error of a refused listing request: one stable code, and one entry per problem found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any


class QueryError(Exception):
    """A listing request the query builder refuses.

    `code` is the code of the first problem: invalid-query, unknown-field, unknown-operator,
    invalid-value, query-too-deep, invalid-sort, invalid-cursor or invalid-page. Each entry of
    `errors` names the `field` at fault (a query key, a sort item or a parameter), its `code`, a
    `message`, and where it helps what is `allowed`, the `expected` value or a `did_you_mean`.
    """

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        message = " ".join(_sentence(entry["message"]) for entry in errors)
        if len(errors) > 1:
            message = f"{len(errors)} problems: {message}"
        super().__init__(message)
        self.code: str = errors[0]["code"]
        self.message = message
        self.errors = list(errors)


def problem(code: str, field: str, message: str, **extra: Any) -> dict[str, Any]:
    """One entry of `QueryError.errors`; echoed client text is made valid UTF-8."""
    return {"code": code, "field": _utf8(field), "message": _utf8(message), **extra}


def refuse(code: str, field: str, message: str, **extra: Any) -> QueryError:
    """A QueryError holding a single problem."""
    return QueryError([problem(code, field, message, **extra)])


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to `word`, when one is near enough to be a likely typo."""
    matches = difflib.get_close_matches(word.lower(), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown(statement: str, word: str, candidates: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """`statement` about an unknown `word`, with a did-you-mean and what is allowed instead."""
    suggestion = _closest(word, candidates)
    hint = f"; did you mean '{suggestion}'?" if suggestion else "."
    allowed = ", ".join(candidates) if candidates else "none"
    details: dict[str, Any] = {"allowed": list(candidates)}
    if suggestion:
        details["did_you_mean"] = suggestion
    return f"{statement}{hint} Allowed: {allowed}.", details


def _sentence(text: str) -> str:
    """`text` ending as a sentence does, so that several read as one message."""
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _utf8(text: str) -> str:
    """`text` with any lone surrogate (JSON lets a client send one) replaced by '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")
