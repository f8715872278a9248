"""Cron expressions of workers: five fields in UTC, with the semantics of cron."""

from __future__ import annotations

import datetime as dt

import pytest

from fluvius.cron import CronError, CronSchedule, parse_cron

START = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)  # a Friday


def runs(expression: str, count: int, after: dt.datetime = START) -> list[dt.datetime]:
    """The first `count` runs of `expression` after `after`."""
    schedule = parse_cron(expression)
    found = []
    for _ in range(count):
        after = schedule.next_after(after)
        found.append(after)
    return found


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("* * * * *", [utc(2026, 11, 27, 12, 1), utc(2026, 11, 27, 12, 2)]),
        ("*/15 * * * *", [utc(2026, 11, 27, 12, 15), utc(2026, 11, 27, 12, 30)]),
        ("30 2 * * mon-fri", [utc(2026, 11, 30, 2, 30), utc(2026, 12, 1, 2, 30)]),
        ("0 0 1 jan,jul *", [utc(2027, 1, 1), utc(2027, 7, 1)]),
        ("30 4 * * 7", [utc(2026, 11, 29, 4, 30), utc(2026, 12, 6, 4, 30)]),
        ("30 4 * * 0", [utc(2026, 11, 29, 4, 30), utc(2026, 12, 6, 4, 30)]),
        ("0 0 * * sat,SUN", [utc(2026, 11, 28), utc(2026, 11, 29)]),
        ("5-20/5 13 * * *", [utc(2026, 11, 27, 13, 5), utc(2026, 11, 27, 13, 10)]),
        ("10/20 12 * * *", [utc(2026, 11, 27, 12, 10), utc(2026, 11, 27, 12, 30)]),
        ("0 0 31 DEC *", [utc(2026, 12, 31), utc(2027, 12, 31)]),
        ("  0   2 * *  *  ", [utc(2026, 11, 28, 2), utc(2026, 11, 29, 2)]),
        ("0 0 29 2 *", [utc(2028, 2, 29), utc(2032, 2, 29)]),
        ("0 0 L * *", [utc(2026, 11, 30), utc(2026, 12, 31)]),
        ("0 0 * * fri#2", [utc(2026, 12, 11), utc(2027, 1, 8)]),
        ("0 0 * * 5L", [utc(2026, 12, 25), utc(2027, 1, 29)]),
    ],
)
def test_runs_of_a_valid_expression(expression: str, first: list[dt.datetime]) -> None:
    assert runs(expression, len(first)) == first


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    first_or_monday = runs("0 0 1 * mon", 4)
    assert first_or_monday == [
        utc(2026, 11, 30),
        utc(2026, 12, 1),
        utc(2026, 12, 7),
        utc(2026, 12, 14),
    ]
    friday_or_13th = runs("0 0 13 * fri", 3, after=utc(2026, 1, 1))
    assert friday_or_13th == [utc(2026, 1, 2), utc(2026, 1, 9), utc(2026, 1, 13)]


def test_a_star_day_field_leaves_the_other_to_choose() -> None:
    assert runs("0 0 * * mon", 2) == [utc(2026, 11, 30), utc(2026, 12, 7)]
    assert runs("0 0 1 * *", 2) == [utc(2026, 12, 1), utc(2027, 1, 1)]
    every_other_day_on_mondays = runs("0 0 */2 * mon", 2)
    assert every_other_day_on_mondays == [utc(2026, 12, 7), utc(2026, 12, 21)]


def test_next_after_is_strictly_after_and_in_utc() -> None:
    schedule = parse_cron("0 * * * *")
    assert schedule.next_after(START) == utc(2026, 11, 27, 13)
    paris = dt.timezone(dt.timedelta(hours=1))
    assert schedule.next_after(START.astimezone(paris)) == utc(2026, 11, 27, 13)
    assert schedule.next_after(START).tzinfo == dt.UTC


def test_every_valid_schedule_keeps_its_expression() -> None:
    assert parse_cron("0 2 * * *") == CronSchedule("0 2 * * *")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("60 * * * *", "minute: '60' is not valid (it takes 0-59)"),
        ("* 24 * * *", "hour: '24' is not valid (it takes 0-23)"),
        ("* * 0 * *", "day of month: '0'"),
        ("* * 32 * *", "day of month: '32'"),
        ("* * * 13 *", "month: '13' is not valid (it takes 1-12 or jan-dec)"),
        ("* * * foo *", "month: 'foo'"),
        ("* * * * 8", "day of week: '8'"),
        ("* * * * mon-", "day of week: 'mon-'"),
        ("*/0 * * * *", "minute: '*/0'"),
        ("*/x * * * *", "minute"),
        ("20-10 * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("-1 * * * *", "minute"),
        ("* * * *", "a cron schedule has 5 fields (minute hour day month weekday), not 4"),
        ("* * * * * *", "a cron schedule has 5 fields"),
        ("", "a cron schedule has 5 fields"),
        ("\u00b2 * * * *", "minute"),
        ("\u0663 * * * *", "minute"),
        ("* \uff11 * * *", "hour"),
        ("*/\u0663 * * * *", "minute"),
        ("0 0 31 2 *", "day of month: '31'"),
        ("0 0 30 feb *", "day of month: '30' is not valid (it takes 1-31, L or LW, a day its"),
        ("0 0 31 4,6,9,11 *", "day of month"),
        ("0 0 30,31 2 *", "day of month"),
    ],
)
def test_invalid_expression_names_the_field(expression: str, message: str) -> None:
    with pytest.raises(CronError) as raised:
        parse_cron(expression)
    assert str(raised.value).startswith(message)


def test_a_rare_schedule_is_found_years_ahead() -> None:
    fifth_monday_of_february = parse_cron("0 0 * 2 mon#5")
    assert fifth_monday_of_february.next_after(START) == utc(2044, 2, 29)
    assert runs("0 0 29 2 mon", 1) == [utc(2027, 2, 1)]
