"""What a handler knows of the command it decides on, besides its payload: `self.context`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Context:
    """The caller (`user`, `roles`, `tenant`), the command's ids, and `now`.

    `now` is one timezone-aware instant per command, recorded as its events' `recorded_at`: a
    rule that reads the clock reads this, so tests and replays of a decision can fix it.
    """

    now: dt.datetime
    user: str | None = None
    roles: tuple[str, ...] = ()
    tenant: str | None = None
    command_id: str | None = None
    correlation_id: str | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError(f"the instant of a command must be timezone-aware, not {self.now}")

    @classmethod
    def current(cls) -> Context:
        """A context of no caller, at the clock's now."""
        return cls(now=dt.datetime.now(dt.UTC))
