"""The alembic environment of generated services: their `migrations/env.py` calls
`run_migrations(SERVICE.metadata)`.

`fluvius migrate` hands alembic a connection (and, when writing a revision, the rules that
rewrite what autogenerate found); run by alembic directly, the environment opens the database
named by `sqlalchemy.url` or FLUVIUS_DATABASE_URL.

Each revision runs in a transaction of its own, on PostgreSQL and SQLite alike (fluvius's
engines let SQLAlchemy begin SQLite's transactions, so that its DDL is transactional too): a
revision that fails leaves the database at the revision before it. Revisions run on both: the
SQL expressions in them are SQLAlchemy's constructs, never one dialect's SQL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import DefaultClause
from sqlalchemy.sql.expression import False_, True_

from fluvius.data.driver import Database
from fluvius.data.types import Money, UtcDateTime
from fluvius.migrations import comparators  # noqa: F401 - registers the enum comparator

CONNECTION = "connection"
REWRITE = "process_revision_directives"


def run_migrations(metadata: MetaData) -> None:
    """Run alembic's command with the service's tables as the target."""
    config = context.config
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "render_as_batch": True,
        "compare_type": True,
        "render_item": render_item,
        "process_revision_directives": config.attributes.get(REWRITE),
        "transaction_per_migration": True,
    }
    if context.is_offline_mode():
        context.configure(url=_url(), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get(CONNECTION)
    if connection is not None:
        _migrate(connection, options)
        return
    asyncio.run(_migrate_database(_url(), options))


def render_item(kind: str, item: Any, autogen: AutogenContext) -> str | bool:
    """Write fluvius's own column types into revisions as `fluvius.data.<type>()`, and boolean
    server defaults as `sa.true()` / `sa.false()` (alembic would write the SQL of the database
    it compared against: `1` from SQLite, which PostgreSQL refuses for a boolean)."""
    if kind == "server_default":
        return _render_server_default(item)
    if kind != "type":
        return False
    if isinstance(item, Money | UtcDateTime):
        autogen.imports.add("import fluvius.data")
        return f"fluvius.data.{type(item).__name__}()"
    if isinstance(item, JSON):
        autogen.imports.add("import fluvius.data")
        return "fluvius.data.json_type()"
    return False


def _render_server_default(default: Any) -> str | bool:
    if isinstance(default, DefaultClause) and isinstance(default.arg, True_ | False_):
        return "sa.true()" if isinstance(default.arg, True_) else "sa.false()"
    return False


@asynccontextmanager
async def migration_connection(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection to `url` outside any transaction, on the engine fluvius writes with: alembic
    then runs each revision in a transaction of its own. Committed when the block ends."""
    database = Database(url, pool_size=1)
    try:
        async with database.write.connect() as connection:
            yield connection
            if connection.in_transaction():
                await connection.commit()
    finally:
        await database.dispose()


def _migrate(connection: Connection, options: dict[str, Any]) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_database(url: str, options: dict[str, Any]) -> None:
    async with migration_connection(url) as connection:
        await connection.run_sync(_migrate, options)


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("FLUVIUS_DATABASE_URL")
    if not url:
        raise RuntimeError("set FLUVIUS_DATABASE_URL, or run `fluvius migrate`")
    return url
