"""A state table with a column of every kind, 200 seeded rows, and the orders Python expects."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Enum,
    Float,
    String,
    Text,
    Uuid,
    insert,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.data import Database, Money, UtcDateTime, json_type, new_metadata, state_table
from fluvius.query import Listing, list_rows

metadata = new_metadata()
table = state_table(
    metadata,
    "shop_item",
    Column("owner", String(80)),
    Column("notes", Text),
    Column("count", BigInteger),
    Column("balance", Money()),
    Column("ratio", Float),
    Column("active", Boolean),
    Column("ref", Uuid),
    Column("born", Date),
    Column("seen_at", UtcDateTime),
    Column("status", Enum("open", "frozen", "closed", native_enum=False)),
    Column("data", json_type()),
    tenancy=True,
)

STATUSES = ("open", "frozen", "closed")
OWNERS = (
    "alice",
    "Alice",
    "ALICE",
    "bob",
    "BOB_smith",
    "bobXsmith",
    "carol%",
    "carolyn",
    "dan/sub",
    "dan_sub",
    "eve\\back",
    "x'; DROP TABLE shop_item; --",
    "zoë",
    "ünïcode",
    "Zed",
)
WORDS = ("alpha", "Beta", "gamma", "50% off", "snake_case", "a/b", "quote'd")
REFS = tuple(uuid.UUID(int=n * 0x1111_1111_1111_1111) for n in range(1, 6))
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
ROW_COUNT = 200


def _maybe(rng: random.Random, value: Any, null_share: float = 0.15) -> Any:
    return None if rng.random() < null_share else value


def seed_rows() -> list[dict[str, Any]]:
    """The same 200 rows every time: ties in every column, NULLs in every nullable one."""
    rng = random.Random(20240501)
    rows = []
    for n in range(ROW_COUNT):
        moment = START + dt.timedelta(seconds=rng.randint(0, 90 * 86400), microseconds=n)
        rows.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128)),
                "version": rng.randint(1, 5),
                "created_at": moment,
                "updated_at": moment + dt.timedelta(hours=rng.randint(0, 48)),
                "tenant_id": "t2" if n % 10 == 0 else "t1",
                "owner": _maybe(rng, rng.choice(OWNERS)),
                "notes": _maybe(rng, " ".join(rng.sample(WORDS, 2)), 0.3),
                "count": _maybe(rng, rng.choice([rng.randint(-50, 50), 2**62, -(2**62)])),
                "balance": _maybe(rng, Decimal(rng.randint(-20000, 20000)) / 100),
                "ratio": _maybe(rng, rng.randint(-12, 12) / 4),
                "active": _maybe(rng, rng.random() < 0.5),
                "ref": _maybe(rng, rng.choice(REFS)),
                "born": _maybe(rng, dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 12000))),
                "seen_at": _maybe(rng, moment + dt.timedelta(minutes=rng.randint(0, 600))),
                "status": _maybe(rng, rng.choice(STATUSES)),
                "data": _maybe(rng, {"n": n, "tags": ["x"]}),
            }
        )
    return rows


ROWS = seed_rows()


async def seeded(url: str) -> Database:
    """A database at `url` holding the sample table and its rows."""
    database = Database(url)
    async with database.write.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(insert(table), ROWS)
    return database


def ids(rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    return [row["id"] for row in rows]


def where(predicate: Callable[[dict[str, Any]], bool]) -> set[uuid.UUID]:
    """The ids of the seeded rows for which `predicate` holds."""
    return {row["id"] for row in ROWS if predicate(row)}


def ordered(rows: Sequence[dict[str, Any]], sort: str | None) -> list[uuid.UUID]:
    """The ids of `rows` in the order `sort=` asks for: NULLs last, ties by id."""
    result = sorted(rows, key=lambda row: row["id"])
    items = [item.strip().partition(".") for item in sort.split(",")] if sort else []
    for name, _, direction in reversed(items):
        present = [row for row in result if row[name] is not None]
        present.sort(key=lambda row: row[name], reverse=direction == "desc")
        result = present + [row for row in result if row[name] is None]
    return ids(result)


def comparable(listing: Listing) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A listing with its cursor reduced to whether there is one (tokens spell stored values)."""
    pagination = dict(listing.pagination)
    pagination["next_cursor"] = pagination["next_cursor"] is not None
    return listing.rows, pagination


async def walk(connection: AsyncConnection, limit: int = 100, **options: Any) -> list[Listing]:
    """Every page of a listing, following next_cursor from the first page to the last."""
    pages = [await list_rows(connection, table, limit=limit, **options)]
    while (cursor := pages[-1].pagination["next_cursor"]) is not None:
        pages.append(await list_rows(connection, table, limit=limit, cursor=cursor, **options))
        assert len(pages) <= ROW_COUNT + 1, "the cursor walk does not end"
    return pages


async def all_ids(connection: AsyncConnection, **options: Any) -> list[uuid.UUID]:
    """The ids of every row a listing gives, over all its pages."""
    return [row["id"] for page in await walk(connection, **options) for row in page.rows]
