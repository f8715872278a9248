"""Regions of user files that fluvius keeps: the lines between two markers.

The README is the user's, but the event model drawn in it follows the spec: `fluvius generate`
rewrites what lies between its markers and leaves every other line as the user wrote it. A file
without the markers (the user removed them) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Markers:
    """The comment lines that open and close a region called `name` in Markdown."""

    name: str

    @property
    def start(self) -> str:
        return f"<!-- fluvius:{self.name}: `fluvius generate` redraws it from fluvius.yaml -->"

    @property
    def end(self) -> str:
        return f"<!-- /fluvius:{self.name} -->"

    def fill(self, text: str, body: str) -> str | None:
        """`text` with `body` between the markers; None when `text` lacks them."""
        span = self._span(text)
        return None if span is None else f"{text[: span[0]]}\n{body}{text[span[1] :]}"

    def body(self, text: str) -> str | None:
        """What lies between the markers of `text`; None when it lacks them."""
        span = self._span(text)
        return None if span is None else text[span[0] + 1 : span[1]]

    def _span(self, text: str) -> tuple[int, int] | None:
        """Where the region's body starts (just after the opening marker) and ends."""
        start = text.find(self.start)
        end = text.find(self.end, start)
        if start < 0 or end < 0:
            return None
        return start + len(self.start), end


EVENT_MODEL = Markers("event-model")
"""The README's drawing of the spec."""
