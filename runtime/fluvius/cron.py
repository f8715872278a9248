"""Five-field cron schedules (minute hour day-of-month month day-of-week), in UTC.

cronsim reads them, with the semantics of cron: when both the day of month and the day of week
are restricted (neither starts with `*`), a day matching either runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cronsim import CronSim, CronSimError

_FIELDS = {  # cronsim's name of each field: ours, and the values it takes
    "minute": ("minute", "0-59"),
    "hour": ("hour", "0-23"),
    "day-of-month": ("day of month", "1-31, L or LW, a day its months have"),
    "month": ("month", "1-12 or jan-dec"),
    "day-of-week": ("day of week", "0-7 or sun-sat, 5L or fri#2"),
}
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class CronError(ValueError):
    """A cron expression that is not a valid 5-field schedule."""


@dataclass(frozen=True)
class CronSchedule:
    """The times a valid cron expression fires."""

    expression: str

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first minute strictly after `moment` (aware) at which the schedule fires, in UTC."""
        return next(CronSim(self.expression, moment.astimezone(dt.UTC)))


def parse_cron(expression: str) -> CronSchedule:
    """Check `expression`; raise CronError saying which field is wrong and what it takes."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(
            f"a cron schedule has 5 fields (minute hour day month weekday), not {len(fields)}"
        )
    try:
        CronSim(expression, _EPOCH)
    except CronSimError as error:
        name = str(error).removeprefix("Bad ")
        if name not in _FIELDS:
            raise CronError(str(error)) from None
        part, values = _FIELDS[name]
        text = fields[list(_FIELDS).index(name)]
        raise CronError(f"{part}: '{text}' is not valid (it takes {values})") from None
    return CronSchedule(expression)
