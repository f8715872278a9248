"""Values survive the round trip through both databases unchanged."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Select, Table, insert, select

from fluvius.data import Database, Money, UtcDateTime
from fluvius.ids import uuid7

values = MetaData()
samples = Table(
    "samples",
    values,
    Column("n", Integer, primary_key=True),
    Column("amount", Money()),
    Column("at", UtcDateTime()),
)


AMOUNTS = ["0", "0.1", "-12.75", "123456789012.34", "9.90", "0.00", "-0.000100"]
AMOUNTS += ["1234567890123456789.01234567890", "-99999999999999999999999999.9999"]


@pytest.mark.parametrize("amount", [Decimal(text) for text in AMOUNTS], ids=AMOUNTS)
async def test_decimals_and_timestamps_round_trip(database_url: str, amount: Decimal) -> None:
    """Digit for digit, scale included (SQLite's NUMERIC would keep 15 digits and no scale)."""
    database = Database(database_url)
    moment = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    try:
        async with database.write.begin() as connection:
            await connection.run_sync(values.create_all)
            await connection.execute(insert(samples), {"n": 1, "amount": amount, "at": moment})
        async with database.read.connect() as connection:
            row = (await connection.execute(select(samples))).one()
    finally:
        await database.dispose()
    assert str(row.amount) == str(amount)
    assert row.at == moment
    assert row.at.tzinfo == dt.UTC


async def test_decimal_comparisons_are_numeric(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write.begin() as connection:
            await connection.run_sync(values.create_all)
            amounts = ["9.5", "10", "100.25", "-3", "9.50", "10000000000000000000.000000001"]
            rows = [{"n": n, "amount": Decimal(a)} for n, a in enumerate(amounts)]
            await connection.execute(insert(samples), rows)
        async with database.read.connect() as connection:

            async def numbers(query: Select[tuple[int]]) -> list[int]:
                return list((await connection.execute(query)).scalars())

            ordered = select(samples.c.n).order_by(samples.c.amount.desc(), samples.c.n)
            above = ordered.where(samples.c.amount > Decimal("9.75"))
            equal = ordered.where(samples.c.amount == Decimal("9.5000"))
            among = ordered.where(samples.c.amount.in_([Decimal("10.0"), Decimal("-3.00")]))
            between = ordered.where(samples.c.amount.between(Decimal(0), Decimal("10")))
            assert await numbers(ordered) == [5, 2, 1, 0, 4, 3]
            assert await numbers(above) == [5, 2, 1]
            assert await numbers(equal) == [0, 4]
            assert await numbers(among) == [1, 3]
            assert await numbers(between) == [1, 0, 4]
    finally:
        await database.dispose()


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    millis = ids[0].int >> 80
    assert abs(millis - dt.datetime.now(dt.UTC).timestamp() * 1000) < 60_000
