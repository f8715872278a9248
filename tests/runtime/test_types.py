"""Values survive the round trip through both databases unchanged."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

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


@pytest.mark.parametrize(
    "amount", [Decimal("0"), Decimal("0.1"), Decimal("-12.75"), Decimal("123456789012.34")]
)
async def test_decimals_and_timestamps_round_trip(database_url: str, amount: Decimal) -> None:
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
    assert row.amount == amount
    assert row.at == moment
    assert row.at.tzinfo == dt.UTC


async def test_decimal_comparisons_are_numeric(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write.begin() as connection:
            await connection.run_sync(values.create_all)
            rows = [{"n": n, "amount": Decimal(a)} for n, a in enumerate(["9.5", "10", "100.25"])]
            await connection.execute(insert(samples), rows)
        async with database.read.connect() as connection:
            query = (
                select(samples.c.n)
                .where(samples.c.amount > Decimal("9.75"))
                .order_by(samples.c.amount)
            )
            found = list((await connection.execute(query)).scalars())
    finally:
        await database.dispose()
    assert found == [1, 2]


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    millis = ids[0].int >> 80
    assert abs(millis - dt.datetime.now(dt.UTC).timestamp() * 1000) < 60_000
