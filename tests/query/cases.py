"""Shared cases: one condition per operator and kind with the rows it must match, and walks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.query.sample import REFS, ROWS

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

SEEN = next(row["seen_at"] for row in ROWS if row["seen_at"] is not None)
SOME_ID = ROWS[17]["id"]


def negated(key: str) -> str:
    """The key of the condition that holds exactly where the condition of `key` does not."""
    field, _, operator = key.partition(".")
    return f"{field}!{operator or 'eq'}"


def has(name: str, test: Callable[[Any], bool]) -> Predicate:
    """`test` on a field's value; a NULL never passes."""
    return lambda row: row[name] is not None and test(row[name])


CONDITIONS: list[tuple[str, Any, Predicate]] = [
    # strings (String and Text)
    ("owner", "alice", has("owner", lambda v: v == "alice")),
    ("owner.ne", "alice", has("owner", lambda v: v != "alice")),
    ("owner.in", ["bob", "zoë", "nobody"], has("owner", lambda v: v in ("bob", "zoë"))),
    ("owner.has", "LIC", has("owner", lambda v: "lic" in v.lower())),
    ("owner.startswith", "Bob", has("owner", lambda v: v.lower().startswith("bob"))),
    ("owner.has", "%", has("owner", lambda v: "%" in v)),
    ("owner.has", "_", has("owner", lambda v: "_" in v)),
    ("owner.startswith", "dan/", has("owner", lambda v: v.startswith("dan/"))),
    ("owner.has", "\\", has("owner", lambda v: "\\" in v)),
    ("owner.has", "ë", has("owner", lambda v: "ë" in v)),
    # only ASCII letters fold, alike on both backends
    ("owner.has", "Ë", has("owner", lambda v: "Ë" in v)),
    ("owner.startswith", "ZO", has("owner", lambda v: v.lower().startswith("zo"))),
    ("owner.has", "", has("owner", lambda v: True)),
    ("notes.has", "% OFF", has("notes", lambda v: "% off" in v.lower())),
    ("notes.startswith", "snake_", has("notes", lambda v: v.startswith("snake_"))),
    # numbers: BigInteger, Money (decimal), Float, and the Integer version
    ("count", 3, has("count", lambda v: v == 3)),
    ("count.gt", 10, has("count", lambda v: v > 10)),
    ("count.gte", 2**62, has("count", lambda v: v >= 2**62)),
    ("count.lt", -(2**61), has("count", lambda v: v < -(2**61))),
    ("count.lte", 0, has("count", lambda v: v <= 0)),
    ("count.in", [1, 2, 3], has("count", lambda v: v in (1, 2, 3))),
    ("count.between", [-5, 5], has("count", lambda v: -5 <= v <= 5)),
    ("count.ne", 7, has("count", lambda v: v != 7)),
    ("balance.gt", 10.5, has("balance", lambda v: v > Decimal("10.5"))),
    ("balance.gte", "-0.25", has("balance", lambda v: v >= Decimal("-0.25"))),
    ("balance.lt", -100, has("balance", lambda v: v < -100)),
    ("balance.lte", 1e1, has("balance", lambda v: v <= 10)),
    ("balance.between", [-5, 5.5], has("balance", lambda v: -5 <= v <= Decimal("5.5"))),
    ("balance.eq", ROWS[3]["balance"], has("balance", lambda v: v == ROWS[3]["balance"])),
    ("ratio.gt", 0.5, has("ratio", lambda v: v > 0.5)),
    ("ratio.in", [1.25, -2, 0], has("ratio", lambda v: v in (1.25, -2, 0))),
    ("ratio.between", [-1, 1], has("ratio", lambda v: -1 <= v <= 1)),
    ("version.lte", 2, has("version", lambda v: v <= 2)),
    # dates and datetimes (with their timezone, at microseconds)
    ("born.gt", "2010-06-30", has("born", lambda v: v > dt.date(2010, 6, 30))),
    ("born.lte", "2000-01-01", has("born", lambda v: v <= dt.date(2000, 1, 1))),
    (
        "born.between",
        ["1995-01-01", "1996-12-31"],
        has("born", lambda v: dt.date(1995, 1, 1) <= v <= dt.date(1996, 12, 31)),
    ),
    ("born.in", [str(ROWS[5]["born"])], has("born", lambda v: v == ROWS[5]["born"])),
    ("born", str(ROWS[5]["born"]), has("born", lambda v: v == ROWS[5]["born"])),
    ("born.ne", str(ROWS[5]["born"]), has("born", lambda v: v != ROWS[5]["born"])),
    ("born.gte", "2015-01-01", has("born", lambda v: v >= dt.date(2015, 1, 1))),
    ("born.lt", "1992-02-29", has("born", lambda v: v < dt.date(1992, 2, 29))),
    (
        "seen_at.gte",
        "2024-02-01T02:00:00+02:00",
        has("seen_at", lambda v: v >= dt.datetime(2024, 2, 1, tzinfo=dt.UTC)),
    ),
    (
        "seen_at.lt",
        "2024-01-15T00:00:00Z",
        has("seen_at", lambda v: v < dt.datetime(2024, 1, 15, tzinfo=dt.UTC)),
    ),
    ("seen_at", SEEN.isoformat(), has("seen_at", lambda v: v == SEEN)),
    ("seen_at.ne", SEEN.isoformat(), has("seen_at", lambda v: v != SEEN)),
    ("seen_at.in", [SEEN.isoformat(), "2001-01-01T00:00:00Z"], has("seen_at", lambda v: v == SEEN)),
    ("seen_at.gt", SEEN.isoformat(), has("seen_at", lambda v: v > SEEN)),
    (
        "seen_at.lte",
        "2024-03-01T12:30:00.5-05:00",
        has("seen_at", lambda v: v <= dt.datetime(2024, 3, 1, 17, 30, 0, 500000, tzinfo=dt.UTC)),
    ),
    (
        "created_at.between",
        ["2024-01-10T00:00:00+00:00", "2024-02-10T00:00:00+00:00"],
        lambda row: (
            dt.datetime(2024, 1, 10, tzinfo=dt.UTC)
            <= row["created_at"]
            <= dt.datetime(2024, 2, 10, tzinfo=dt.UTC)
        ),
    ),
    # enums, booleans, uuids
    ("status", "open", has("status", lambda v: v == "open")),
    ("status.ne", "closed", has("status", lambda v: v != "closed")),
    ("status.in", ["open", "frozen"], has("status", lambda v: v in ("open", "frozen"))),
    ("active", True, has("active", lambda v: v is True)),
    ("active.ne", True, has("active", lambda v: v is False)),
    ("ref", str(REFS[0]), has("ref", lambda v: v == REFS[0])),
    ("ref.in", [str(REFS[1]), str(REFS[2]).upper()], has("ref", lambda v: v in REFS[1:3])),
    ("ref.ne", str(REFS[0]), has("ref", lambda v: v != REFS[0])),
    ("id", str(SOME_ID), lambda row: row["id"] == SOME_ID),
    # null equality
    ("owner.eq", None, lambda row: row["owner"] is None),
    ("balance", None, lambda row: row["balance"] is None),
    ("active.ne", None, lambda row: row["active"] is not None),
    ("born.ne", None, lambda row: row["born"] is not None),
]


WALKS: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    ({}, "balance.desc"),
    ({}, "status.asc,balance.desc"),
    ({}, "active.desc,ratio,owner.desc"),
    ({}, "born.desc,seen_at"),
    ({}, "ref.desc,count"),
    ({}, "owner,notes.desc"),
    ({}, "id.desc"),
    # NOT NULL leading keys: one row comparison, or a row bound beside the exact condition
    ({}, "version,updated_at"),
    ({}, "version.desc,created_at.desc"),
    ({}, "version.desc,owner"),
    ({}, "version,id.desc"),
    ({"balance.gt": 0}, "owner.desc,balance"),
    ({".or": [{"status": "open"}, {"active": None}]}, "status.desc,ratio.desc"),
]
