"""The "did you mean" of every diagnostic."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to `word`, if one is near enough to be a likely typo."""
    options = [c for c in candidates if c != word]
    by_case = {c.lower().replace("_", "-"): c for c in options}
    folded = word.lower().replace("_", "-")
    if folded in by_case:
        return by_case[folded]
    matches = difflib.get_close_matches(folded, list(by_case), n=1, cutoff=0.6)
    return by_case[matches[0]] if matches else None
