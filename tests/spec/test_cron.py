"""Cron expressions of workers: parsed to sets, weekdays counted from Monday = 0."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest

from fluvius.cron import CronError, CronSchedule, parse_cron

MINUTES = frozenset(range(60))
HOURS = frozenset(range(24))
DAYS = frozenset(range(1, 32))
MONTHS = frozenset(range(1, 13))
WEEKDAYS = frozenset(range(7))


def schedule(
    minute: Iterable[int] = MINUTES,
    hour: Iterable[int] = HOURS,
    day: Iterable[int] = DAYS,
    month: Iterable[int] = MONTHS,
    weekday: Iterable[int] = WEEKDAYS,
) -> CronSchedule:
    return CronSchedule(*map(frozenset, (minute, hour, day, month, weekday)))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * *", schedule()),
        ("*/15 * * * *", schedule(minute={0, 15, 30, 45})),
        ("0 2 * * mon-fri", schedule(minute={0}, hour={2}, weekday={0, 1, 2, 3, 4})),
        ("0 0 1 jan,jul *", schedule(minute={0}, hour={0}, day={1}, month={1, 7})),
        ("30 4 * * 7", schedule(minute={30}, hour={4}, weekday={6})),
        ("30 4 * * 0", schedule(minute={30}, hour={4}, weekday={6})),
        ("* * * * sat,SUN", schedule(weekday={5, 6})),
        ("5-20/5 * * * *", schedule(minute={5, 10, 15, 20})),
        ("10/20 * * * *", schedule(minute={10, 30, 50})),
        ("0 9-17 * * 1-5", schedule(minute={0}, hour=set(range(9, 18)), weekday={0, 1, 2, 3, 4})),
        ("0 0 31 DEC *", schedule(minute={0}, hour={0}, day={31}, month={12})),
        ("  0   2 * *  *  ", schedule(minute={0}, hour={2})),
        ("0 0 29 2 *", schedule(minute={0}, hour={0}, day={29}, month={2})),
        ("0 0 31 1-2 *", schedule(minute={0}, hour={0}, day={31}, month={1, 2})),
        ("0 0 30,31 2,3 *", schedule(minute={0}, hour={0}, day={30, 31}, month={2, 3})),
        # Every field must match, day of month and day of week alike.
        ("0 0 1 2 mon", schedule(minute={0}, hour={0}, day={1}, month={2}, weekday={0})),
    ],
)
def test_valid_expression(expression: str, expected: CronSchedule) -> None:
    assert parse_cron(expression) == expected


@pytest.mark.parametrize(
    ("expression", "part"),
    [
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day of month"),
        ("* * 32 * *", "day of month"),
        ("* * * 13 *", "month"),
        ("* * * foo *", "month"),
        ("* * * * 8", "day of week"),
        ("* * * * mon-", "day of week"),
        ("*/0 * * * *", "minute"),
        ("*/x * * * *", "minute"),
        ("20-10 * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("-1 * * * *", "minute"),
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("", "5 fields"),
        ("\u00b2 * * * *", "minute"),
        ("\u0663 * * * *", "minute"),
        ("* \uff11 * * *", "hour"),
        ("*/\u0663 * * * *", "minute"),
        ("0 0 31 2 *", "day of month"),
        ("0 0 31 2 mon", "day of month"),
        ("0 0 30 feb *", "day of month"),
        ("0 0 31 4,6,9,11 *", "day of month"),
        ("0 0 30,31 2 *", "day of month"),
    ],
)
def test_invalid_expression_names_the_part(expression: str, part: str) -> None:
    with pytest.raises(CronError, match=part):
        parse_cron(expression)


def test_next_after_finds_the_next_matching_minute() -> None:
    schedule_ = parse_cron("30 2 * * mon-fri")
    friday_noon = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    assert schedule_.next_after(friday_noon) == dt.datetime(2026, 11, 30, 2, 30, tzinfo=dt.UTC)
    assert schedule_.matches(schedule_.next_after(friday_noon))
    assert parse_cron("* * * * *").next_after(friday_noon) == friday_noon + dt.timedelta(minutes=1)


def test_a_rare_schedule_is_found_decades_ahead() -> None:
    leap_monday = parse_cron("0 0 29 2 mon")
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    assert leap_monday.next_after(now) == dt.datetime(2044, 2, 29, tzinfo=dt.UTC)


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    friday_13th = parse_cron("0 0 13 * fri")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert friday_13th.next_after(now) == dt.datetime(2026, 2, 13, tzinfo=dt.UTC)
