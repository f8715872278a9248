"""The engines' connections on PostgreSQL: one pool without a replica, and a connection the
server drops is known as lost, then replaced."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from fluvius.application import CommandProcessor
from fluvius.data import Database
from fluvius.data.driver import direct_statement
from fluvius.data.failures import connection_lost, database_busy
from tests.runtime.bank import Account, Deposit, OpenAccount, accounts
from tests.services import POSTGRES_URL, throwaway_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with throwaway_postgres() as url:
        yield url


async def test_reads_of_the_primary_share_the_write_pool_and_each_replica_has_one(
    url: str,
) -> None:
    alone = Database(url, pool_size=3)
    with_replica = Database(url, replicas=[url], pool_size=3)
    try:
        assert alone.read is alone.write
        assert alone.write.pool.size() == 3  # type: ignore[attr-defined]
        assert with_replica.read is with_replica.write
        (replica,) = with_replica.replicas.replicas
        assert replica.engine is not with_replica.write
        assert replica.engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        await alone.dispose()
        await with_replica.dispose()


async def test_a_connection_dropped_in_a_direct_transaction_is_lost_then_replaced(
    url: str,
) -> None:
    database = Database(url, pool_size=1)
    server = make_url(POSTGRES_URL).set(drivername="postgresql")
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    statement = direct_statement(select(accounts.c.id), (), database.write.dialect)
    log = database.write.sync_engine.logger

    async def dropped_mid_transaction() -> None:
        async with database.transaction() as transaction:
            assert transaction.driver is not None
            pid = transaction.driver.get_server_pid()
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
            for _ in range(500):
                if transaction.driver.is_closed():
                    break
                await asyncio.sleep(0.01)
            await statement.fetch(transaction.driver, {}, log)

    try:
        async with database.write.begin() as connection:
            await connection.run_sync(accounts.metadata.create_all)
        with pytest.raises(DBAPIError) as raised:
            await dropped_mid_transaction()
        assert connection_lost(raised.value)
        assert not database_busy(raised.value)
        async with database.transaction() as transaction:
            assert transaction.driver is not None
            assert await statement.fetch(transaction.driver, {}, log) == []
    finally:
        await admin.close()
        await database.dispose()


async def test_the_sql_log_sees_direct_statements_and_does_not_change_their_path(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(url, pool_size=2)
    try:
        async with database.write.begin() as connection:
            await connection.run_sync(accounts.metadata.create_all)
        processor = CommandProcessor(database)
        opened = await processor.execute(Account, OpenAccount(owner="ann", initial_deposit=10))
        caplog.set_level(logging.INFO, logger="sqlalchemy.engine.Engine")
        async with database.transaction() as transaction:
            assert transaction.driver is not None  # still the direct path
        caplog.clear()
        await processor.execute(Account, Deposit(amount=5), opened.aggregate_id)
        on_the_saved_row = _logged_statements(caplog)
        caplog.clear()
        await CommandProcessor(database).execute(Account, Deposit(amount=5), opened.aggregate_id)
        on_a_row_read = _logged_statements(caplog)
        # no transaction: a processor that saved the row decides on it and writes in one round
        # trip; another reads the row first. The write saves the row at the version decided on,
        # takes the log's appending lock, wakes the live readers, and adds event and command.
        assert [statement.split()[0] for statement in on_the_saved_row] == ["WITH"]
        assert [statement.split()[0] for statement in on_a_row_read] == ["SELECT", "WITH"]
        assert "FOR UPDATE" not in on_a_row_read[0]
        write = on_the_saved_row[0]
        for table in ("banking_event", "banking_account", "banking_command"):
            assert f"INSERT INTO {table}" in write or f"UPDATE {table}" in write
        assert "pg_advisory_xact_lock_shared" in write
        assert "pg_notify" in write
        messages = [record.getMessage() for record in caplog.records]
        assert all(message.startswith("[direct] (") for message in messages[1::2])
        assert str(opened.aggregate_id) in messages[-1]
        assert not any("[generated in" in m or "[cached since" in m for m in messages)
    finally:
        await database.dispose()


def _logged_statements(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The SQL statements in the SQL log, each followed there by its parameters."""
    logged = [(record.name, record.getMessage()) for record in caplog.records]
    assert all(name == "sqlalchemy.engine.Engine" for name, _ in logged)
    return [message for _, message in logged][0::2]
