"""Five-field cron expressions (minute hour day-of-month month day-of-week), parsed to sets.

A time matches when every field matches it, day of month and day of week included (unlike
classic cron, which runs when either of those two matches): arq's scheduler works that way, and
the in-process scheduler does the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_WEEKDAYS = "sun mon tue wed thu fri sat".split()
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_SEARCH_DAYS = 400 * 366  # weekdays and dates repeat every 400 years


@dataclass(frozen=True)
class _Part:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_PARTS = (
    _Part("minute", 0, 59),
    _Part("hour", 0, 23),
    _Part("day of month", 1, 31),
    _Part("month", 1, 12, tuple(_MONTHS), 1),
    _Part("day of week", 0, 7, tuple(_WEEKDAYS), 0),
)


@dataclass(frozen=True)
class CronSchedule:
    """The times a cron expression fires, each part as the set of values it matches."""

    minute: frozenset[int]
    hour: frozenset[int]
    day: frozenset[int]
    month: frozenset[int]
    weekday: frozenset[int]  # 0 = Monday, as datetime.weekday() counts

    def matches(self, moment: dt.datetime) -> bool:
        """Whether the schedule fires in the minute of `moment`."""
        return (
            moment.minute in self.minute
            and moment.hour in self.hour
            and moment.day in self.day
            and moment.month in self.month
            and moment.weekday() in self.weekday
        )

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first minute strictly after `moment` at which the schedule fires."""
        start = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(_SEARCH_DAYS):
            if day.month in self.month and day.day in self.day and day.weekday() in self.weekday:
                for hour in sorted(self.hour):
                    for minute in sorted(self.minute):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += dt.timedelta(days=1)
        raise CronError("the schedule never fires")


class CronError(ValueError):
    """A cron expression that is not a valid 5-field schedule."""


def parse_cron(expression: str) -> CronSchedule:
    """Parse `expression`; raise CronError saying which part is wrong and why."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(
            f"a cron schedule has 5 fields (minute hour day month weekday), not {len(fields)}"
        )
    minute, hour, day, month, weekday = (
        _parse_field(text, part) for text, part in zip(fields, _PARTS, strict=True)
    )
    if not any(d <= _DAYS_IN_MONTH[m - 1] for m in month for d in day):
        raise CronError("day of month: none of these days occurs in the chosen months")
    # cron counts Sunday as 0 (or 7); datetime counts Monday as 0.
    return CronSchedule(minute, hour, day, month, frozenset((d - 1) % 7 for d in weekday))


def _parse_field(text: str, part: _Part) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, part))
    return frozenset(values)


def _parse_item(item: str, part: _Part) -> range:
    body, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _digits(step_text) or int(step_text) == 0:
            raise CronError(f"{part.name}: step '{step_text}' must be a positive number")
        step = int(step_text)
    if body == "*":
        low, high = part.low, part.high
    elif "-" in body:
        start, _, end = body.partition("-")
        low, high = _value(start, part), _value(end, part)
        if low > high:
            raise CronError(f"{part.name}: range '{body}' runs backwards")
    else:
        low = _value(body, part)
        high = part.high if slash else low
    return range(low, high + 1, step)


def _value(text: str, part: _Part) -> int:
    lowered = text.lower()
    if lowered in part.names:
        return part.names.index(lowered) + part.name_base
    if not _digits(text):
        raise CronError(f"{part.name}: '{text}' is not a number")
    value = int(text)
    if not part.low <= value <= part.high:
        raise CronError(f"{part.name}: {value} is outside {part.low}-{part.high}")
    return value


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
