"""Tables of the hand-written test services, created on a test's database."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import MetaData

from fluvius.data import Database


async def create_all(database: Database, every: Iterable[MetaData]) -> None:
    """Create the tables of each metadata in `every` on `database`, in one transaction."""
    async with database.write.begin() as connection:
        for metadata in every:
            await connection.run_sync(metadata.create_all)
