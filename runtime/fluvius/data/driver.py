"""Database engines: one for writes, one for reads, configured alike for SQLite and PostgreSQL.

On PostgreSQL writes and reads of the primary share one engine: a process holds at most
`pool_size` connections to it, and as many to each read replica. A pooled connection the server
closed is replaced before use, and a caller that waits longer than `pool_timeout_s` for a
connection gets SQLAlchemy's `TimeoutError` (`fluvius.data.failures` tells such errors apart).

On SQLite every write transaction starts with BEGIN IMMEDIATE, so writers queue on the database
lock (WAL mode, with a busy timeout) instead of failing at commit. On PostgreSQL a command saves
its aggregate's row only at the version it decided on, and queues on the row's lock when it
moved on (the command processor).

The command processor's statements are few and always the same. On PostgreSQL its transaction
(`Database.transaction`) runs them as `DirectStatement`s: the SQL SQLAlchemy compiled, once, sent
straight to asyncpg with SQLAlchemy's own conversions of parameters and results, which skips
SQLAlchemy's execution machinery (a context, a cursor and a greenlet per statement) and costs a
third as much. The SQL log (`sqlalchemy.engine.Engine` at INFO, or the engine's `echo`) sees
them as it sees SQLAlchemy's: each statement's SQL, then its parameters, marked `[direct]`.
Statement event listeners (`before_cursor_execute` and the like) need SQLAlchemy's execution
context, so an engine that has any runs every statement through SQLAlchemy instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import asyncpg
from pydantic_core import from_json
from sqlalchemy import Dialect, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from fluvius.data.commits import CommitSignals
from fluvius.data.replicas import Replicas, written_by
from fluvius.data.types import DECIMAL_ORDER, decimal_order_key
from fluvius.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.sql import ClauseElement
    from sqlalchemy.sql.compiler import SQLCompiler

    from fluvius.domain.messages import RecordedEvent, State

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
SQLITE_BUSY_TIMEOUT_S = 30
# Prepared statements kept per PostgreSQL connection. A command prepares about 4 statements
# per aggregate (2 per domain more), and each must stay prepared: at asyncpg's default of 100,
# deposits spread over 50 aggregates re-prepared most of their statements every time.
STATEMENT_CACHE = 1000
# How long making a connection to a replica may take before the replica counts as down.
REPLICA_CONNECT_S = 2.0


def async_url(url: str | URL) -> URL:
    """`url` with the async driver fluvius uses for its backend (aiosqlite, asyncpg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"unsupported database '{backend}': use sqlite or postgresql")
    return parsed.set(drivername=ASYNC_DRIVERS[backend])


def ensure_sqlite_folder(url: str | URL) -> None:
    """Create the folder of a SQLite database file, which SQLite will not do itself."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class Database:
    """The engines of one service: `write`; `read`, which reads the primary; and `replicas`,
    which serve the queries that may read a replica (`fluvius.data.replicas`).

    On PostgreSQL `read` is `write`. SQLite keeps an engine for each, as they begin transactions
    differently; its connections are files, not server connections. Replicas are PostgreSQL
    standbys of the primary, each with a pool of its own. `commits` wakes the readers of the
    logs when commands commit (`fluvius.data.commits`).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        replicas: Sequence[str | URL] = (),
        pool_size: int = Settings.database_pool_size,
        pool_timeout_s: float = Settings.database_pool_timeout_s,
    ):
        self.url = async_url(url)
        ensure_sqlite_folder(self.url)
        pool = _Pool(pool_size, pool_timeout_s)
        self.write = _engine(self.url, begin="BEGIN IMMEDIATE", pool=pool)
        if self.dialect == "postgresql":
            self.read = self.write
        else:
            self.read = _engine(self.url, begin="BEGIN", pool=pool)
        backends = {self.dialect, *(make_url(replica).get_backend_name() for replica in replicas)}
        if replicas and backends != {"postgresql"}:
            raise ValueError("read replicas need PostgreSQL, as the primary does")
        replica_pool = _Pool(pool_size, pool_timeout_s, connect_timeout_s=REPLICA_CONNECT_S)
        self.replicas = Replicas(
            self.read,
            [_engine(async_url(replica), begin="BEGIN", pool=replica_pool) for replica in replicas],
        )
        self._writers = _Turns(pool)
        self.commits = CommitSignals(self.url)

    @classmethod
    def from_settings(cls, settings: Settings, *, replica: bool) -> Database:
        """The database `settings` name, with their pool; with the replicas they name, when
        `replica` is true."""
        return cls(
            settings.database_url,
            replicas=settings.replica_urls if replica else (),
            pool_size=settings.database_pool_size,
            pool_timeout_s=settings.database_pool_timeout_s,
        )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @asynccontextmanager
    async def transaction(self, *, atomic: bool = True) -> AsyncIterator[WriteTransaction]:
        """A write transaction, committed when the block ends without an error.

        On PostgreSQL it is asyncpg's transaction on a pooled connection, for `DirectStatement`s;
        unless the engine has statement listeners, which then see every statement through
        SQLAlchemy. With replicas, its `lsn` is then the primary's WAL position after the commit.

        Not `atomic`, the direct path opens no transaction: each statement commits on its own,
        saving the round trips of BEGIN and COMMIT, for a caller whose one write is a statement
        that checks what it read (the command processor's first attempt). Elsewhere that is a
        transaction still: `WriteTransaction.atomic` tells which the caller got.
        """
        if self.dialect != "postgresql" or _listened(self.write):
            async with self.write.connect() as connection:
                transaction = WriteTransaction(connection)
                async with connection.begin():
                    yield transaction
                self._hand_over(transaction)
                if self.dialect == "sqlite":
                    self.commits.wake_all()
                if self.replicas:
                    transaction.lsn = await wal_written(await asyncpg_of(connection))
            return
        log: SqlLog = self.write.sync_engine.logger
        # Commands beyond the pool's connections wait here, in turn, rather than in the pool,
        # whose waits cost far more and are not first come, first served.
        async with self._writers, self.write.connect() as connection:
            driver = await asyncpg_of(connection)
            transaction = WriteTransaction(connection, driver, atomic=atomic)
            try:
                if atomic:
                    _log_sql(log, "BEGIN (direct)")
                    async with driver.transaction():
                        yield transaction
                    _log_sql(log, "COMMIT")
                else:
                    yield transaction
                self._hand_over(transaction)
                if self.replicas:
                    transaction.lsn = await wal_written(driver)
            except BaseException as error:
                if atomic:
                    _log_sql(log, "ROLLBACK")
                if driver.is_closed() or driver.is_in_transaction():
                    await connection.invalidate()  # not fit to go back to the pool
                if isinstance(error, (asyncpg.PostgresError, asyncpg.InterfaceError)):
                    # from the commit, or the rollback after an error: as SQLAlchemy's, like the
                    # statements' errors (the connection may have been lost)
                    lost = driver.is_closed()
                    raise DBAPIError(None, None, error, connection_invalidated=lost) from error
                raise

    def _hand_over(self, transaction: WriteTransaction) -> None:
        for channel, events, state in transaction.handed:
            self.commits.written(channel, events, state)

    def observe_waits(self, observe: Callable[[int], object]) -> None:
        """Call `observe(1)` when a writer starts waiting for its turn, `observe(-1)` when it
        stops."""
        self._writers.observe = observe

    async def dispose(self) -> None:
        """Close every pooled connection, and the one listening for commits."""
        await self.commits.close()
        await self.write.dispose()
        if self.read is not self.write:
            await self.read.dispose()
        await self.replicas.dispose()


async def asyncpg_of(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `connection` (PostgreSQL), for direct statements."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    return driver


async def wal_written(driver: asyncpg.Connection) -> str:
    """Where the primary's WAL records written so far end: a replica that has replayed up to
    it sees every transaction committed before."""
    inserted, block_size = await driver.fetchrow(
        "SELECT pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int"
    )
    return written_by(inserted, block_size)


@dataclass(frozen=True)
class _Pool:
    """How many connections an engine keeps, and how long a caller waits for one."""

    size: int
    timeout_s: float
    connect_timeout_s: float | None = None  # asyncpg's default (60 s) when None


class _Turns:
    """Turns at the write pool's connections, first come, first served, on whichever event loop
    is running (one loop at a time); a wait longer than the pool's timeout raises its error."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self.observe: Callable[[int], object] = lambda _change: None

    async def __aenter__(self) -> None:
        semaphore = self._current()
        if not semaphore.locked():
            await semaphore.acquire()  # at once
            return
        self.observe(1)
        try:
            async with asyncio.timeout(self.pool.timeout_s):
                await semaphore.acquire()
        except TimeoutError:
            raise PoolTimeout(
                f"no write connection was free within {self.pool.timeout_s:g} s"
            ) from None
        finally:
            self.observe(-1)

    async def __aexit__(self, *_exc: object) -> None:
        self._current().release()

    def _current(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or loop is not self._loop:
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.pool.size)
        return self._semaphore


def _engine(url: URL, *, begin: str, pool: _Pool) -> AsyncEngine:
    # Every connection is kept open once made. (An overflow connection would be closed on every
    # return to a pool holding `pool_size` idle ones, and opened again at the next burst: under
    # steady load that is one new backend every few commands.)
    pooling: dict[str, Any] = {
        "pool_size": pool.size,
        "max_overflow": 0,
        "pool_timeout": pool.timeout_s,
        # JSON columns (events' data and metadata) parsed by pydantic's parser: the same
        # values as the standard library's, in a third of the time, which log readers feel
        "json_deserializer": from_json,
    }
    if url.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url,
            **pooling,
            connect_args={
                "statement_cache_size": STATEMENT_CACHE,  # asyncpg's, for direct statements
                "prepared_statement_cache_size": STATEMENT_CACHE,  # SQLAlchemy's
                # pg_stat_activity tells each process's connections apart by this
                "server_settings": {"application_name": f"fluvius:{os.getpid()}"},
                **({"timeout": pool.connect_timeout_s} if pool.connect_timeout_s else {}),
            },
        )
        event.listen(engine.sync_engine, "checkout", _replace_closed)
        return engine
    engine = create_async_engine(url, **pooling, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    _take_over_sqlite_transactions(engine, begin)
    return engine


def _replace_closed(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Have the pool replace a connection that the server closed while it sat in the pool (a
    restart, `pg_terminate_backend`): asyncpg has seen the socket close, no round trip needed."""
    if record.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _take_over_sqlite_transactions(engine: AsyncEngine, begin: str) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide when and how transactions begin."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # Money is text on SQLite: its comparisons and sorts go through this (types.py).
        dbapi_connection.create_function(DECIMAL_ORDER, 1, decimal_order_key, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def _listened(engine: AsyncEngine) -> bool:
    """True when statement listeners expect to see each statement of `engine`."""
    dispatch = engine.sync_engine.dispatch
    listened = (
        dispatch.before_execute,
        dispatch.after_execute,
        dispatch.before_cursor_execute,
        dispatch.after_cursor_execute,
    )
    return any(listened)


Processor = Callable[[Any], Any]


class SqlLog(Protocol):
    """An engine's SQL log: `sqlalchemy.engine.Engine`, or the engine's own when it echoes."""

    def isEnabledFor(self, level: int) -> bool: ...  # noqa: N802 - logging's name

    def info(self, msg: str, *args: Any) -> None: ...


def _log_sql(log: SqlLog, message: str, *args: Any) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info(message, *args)


@dataclass
class WriteTransaction:
    """An open write transaction: its SQLAlchemy connection and, for direct statements, the
    asyncpg connection that holds the transaction; whether it is one (`atomic`) or each
    statement commits alone; after the commit, with replicas, the primary's WAL position
    (`Database.transaction`)."""

    connection: AsyncConnection
    driver: asyncpg.Connection | None = None
    atomic: bool = True
    lsn: str | None = None
    handed: list[tuple[str, Sequence[RecordedEvent[Any]], State]] = field(default_factory=list)

    def hand_over(self, channel: str, events: Sequence[RecordedEvent[Any]], state: State) -> None:
        """Once committed, hand `events`, written to the log of `channel`, and their
        aggregate's state after them to the readers of this process (`CommitSignals.written`),
        before any is woken."""
        self.handed.append((channel, events, state))


class DirectStatement:
    """A statement compiled once for asyncpg, with SQLAlchemy's conversions of its values.

    `direct_statement` makes them.
    """

    def __init__(self, compiled: SQLCompiler, statement: ClauseElement, dialect: Dialect) -> None:
        self.sql = compiled.string
        self.dialect = dialect
        self.parameters = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )
        columns = getattr(statement, "exported_columns", ())
        self.columns = tuple(column.key for column in columns)
        self._types = tuple(column.type for column in columns)
        self._results: list[Processor | None] | None = None

    async def fetch(
        self, driver: asyncpg.Connection, parameters: Mapping[str, Any], log: SqlLog
    ) -> list[dict[str, Any]]:
        """The rows the statement returns, as SQLAlchemy would convert them."""
        arguments = self._arguments(parameters, log)
        records = await self._run(driver, driver.fetch(self.sql, *arguments))
        if not records:
            return []
        results = self._results or await self._learn_results(driver)
        return [
            {
                column: value if process is None else process(value)
                for column, process, value in zip(self.columns, results, record, strict=True)
            }
            for record in records
        ]

    async def execute(
        self, driver: asyncpg.Connection, parameters: Mapping[str, Any], log: SqlLog
    ) -> int:
        """Run the statement; the number of rows it affected."""
        arguments = self._arguments(parameters, log)
        status: str = await self._run(driver, driver.execute(self.sql, *arguments))
        return int(status.rsplit(" ", 1)[-1])

    def _arguments(self, parameters: Mapping[str, Any], log: SqlLog) -> list[Any]:
        """The values of the statement's parameters, in order; logged with its SQL, as
        SQLAlchemy logs its own statements, when `log` is on."""
        if log.isEnabledFor(logging.INFO):
            log.info(self.sql)
            log.info("[direct] %r", tuple(parameters[name] for name, _ in self.parameters))
        return [
            parameters[name] if process is None else process(parameters[name])
            for name, process in self.parameters
        ]

    async def _learn_results(self, driver: asyncpg.Connection) -> list[Processor | None]:
        """The result conversions, which depend on the column types the server reports."""
        attributes = (await driver.prepare(self.sql)).get_attributes()
        self._results = [
            kind.dialect_impl(self.dialect).result_processor(self.dialect, attribute.type.oid)
            for kind, attribute in zip(self._types, attributes, strict=True)
        ]
        return self._results

    async def _run(self, driver: asyncpg.Connection, call: Any) -> Any:
        """Await `call`, raising database errors as SQLAlchemy's, as the rest of fluvius expects."""
        try:
            return await call
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(self.sql, None, error) from error
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            lost = driver.is_closed()
            raise DBAPIError(self.sql, None, error, connection_invalidated=lost) from error


@lru_cache(maxsize=1024)
def direct_statement(
    statement: ClauseElement, keys: tuple[str, ...], dialect: Dialect
) -> DirectStatement:
    """`statement` compiled for parameters named `keys` (sorted).

    Only statements whose every parameter is one of `keys` run directly: bind values of their
    own, expanding or literal parameters need SQLAlchemy.
    """
    compiled = cast("SQLCompiler", statement.compile(dialect=dialect, column_keys=list(keys)))
    names = compiled.positiontup or ()
    supplied = all(compiled.binds[name].required and name in keys for name in names)
    if not supplied or compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError(f"this statement needs SQLAlchemy to run it: {compiled.string}")
    return DirectStatement(compiled, statement, dialect)
