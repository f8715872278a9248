"""The SQL of a command: the command log, the state row, and appends to the event log.

An EventStore works inside one transaction that its caller opened; it never commits. Given the
asyncpg connection of a `Database.transaction`, it runs the command's statements directly on it
(see `fluvius.data.driver`); the SQL is the same either way.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Integer,
    Row,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError

from fluvius.data.driver import DirectStatement, SqlLog, direct_statement
from fluvius.data.mapping import storage_of
from fluvius.data.tables import APPENDING_LOCKS
from fluvius.data.uploads import UploadRecord, upload_query, use_statement
from fluvius.domain.messages import Event, EventMetadata, RecordedEvent, State
from fluvius.ids import uuid7
from fluvius.observability.hooks import tracing

if TYPE_CHECKING:
    import asyncpg
    from sqlalchemy import Executable
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.")


@dataclass(frozen=True)
class StoredCommand:
    """A command already processed, as the command log keeps it."""

    aggregate: str
    aggregate_id: uuid.UUID
    name: str
    request_hash: str
    response: dict[str, Any]


class StaleState(Exception):
    """The state row changed under a writer that did not hold its lock."""


@dataclass(frozen=True)
class StateChange:
    """An aggregate's state row after a command: inserted when `previous_version` is 0, else
    updated from that version."""

    table: Table
    state: State
    previous_version: int
    tenant: str | None

    def row(self) -> dict[str, Any]:
        """The row's values, with its tenant when the table has tenants."""
        row = self.state.model_dump()
        if has_tenancy(self.table):
            row["tenant_id"] = _required_tenant(self.table, self.tenant)
        return row

    def stale(self) -> StaleState:
        """The error of an update that found the row at another version."""
        return StaleState(
            f"{self.table.name} {self.state.id} is no longer at version {self.previous_version}"
        )


@dataclass(frozen=True)
class CommandEntry:
    """A command's entry in the command log: its reply, kept under its id."""

    tenant: str
    command_id: str
    aggregate: str
    aggregate_id: uuid.UUID
    name: str
    request_hash: str
    response: dict[str, Any]
    recorded_at: dt.datetime

    def row(self) -> dict[str, Any]:
        """The command log's row."""
        return {
            "tenant_id": self.tenant,
            "command_id": self.command_id,
            "aggregate": self.aggregate,
            "aggregate_id": self.aggregate_id,
            "name": self.name,
            "request_hash": self.request_hash,
            "response": self.response,
            "recorded_at": self.recorded_at,
        }


def new_events(
    aggregate: str,
    aggregate_id: uuid.UUID,
    after_version: int,
    events: Sequence[Event],
    metadata: EventMetadata,
    recorded_at: dt.datetime,
) -> list[RecordedEvent[Event]]:
    """`events` as they will be recorded at versions after_version+1.. ; their position and
    transaction id are the log's to give (`EventStore.write`), 0 until then."""
    if metadata.traceparent is None and (traceparent := tracing().traceparent()):
        metadata = metadata.model_copy(update={"traceparent": traceparent})
    return [
        RecordedEvent(
            position=0,
            id=uuid7(),
            aggregate=aggregate,
            aggregate_id=aggregate_id,
            version=after_version + index,
            name=event.event_name,
            schema_version=event.schema_version,
            data=event,
            metadata=metadata,
            recorded_at=recorded_at,
        )
        for index, event in enumerate(events, start=1)
    ]


def violated_table(error: IntegrityError) -> str | None:
    """The table whose unique key `error` violated, or None for other integrity errors."""
    # asyncpg's error is the cause of SQLAlchemy's DBAPI error, or the error itself when the
    # statement ran directly on asyncpg.
    for cause in (getattr(error.orig, "__cause__", None), error.orig):
        table = getattr(cause, "table_name", None)
        if table is not None and getattr(cause, "sqlstate", None) == "23505":
            return str(table)
    match = _SQLITE_UNIQUE.search(str(error.orig))
    return match.group(1) if match else None


def has_tenancy(table: Table) -> bool:
    """True when the rows of `table` belong to tenants."""
    return "tenant_id" in table.c


def _required_tenant(table: Table, tenant: str | None) -> str:
    if tenant is None:
        raise ValueError(f"{table.name} belongs to tenants: a command on it needs a tenant")
    return tenant


def transaction_id(connection: AsyncConnection) -> ColumnElement[int]:
    """The writing transaction's id on PostgreSQL (for ordered log reads); 0 on SQLite."""
    return _transaction_id(connection.dialect.name)


def _transaction_id(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return func.pg_current_xact_id().cast(Text).cast(BigInteger)
    return literal(0, BigInteger)


# The statements of the write path are built once per table and take their values as bound
# parameters: SQLAlchemy then finds their compiled form in its cache without building them,
# or computing their cache key, again for every command.


@cache
def _command_query(commands: Table) -> Select[Any]:
    return select(
        commands.c.aggregate,
        commands.c.aggregate_id,
        commands.c.name,
        commands.c.request_hash,
        commands.c.response,
    ).where(
        commands.c.tenant_id == bindparam("tenant_id"),
        commands.c.command_id == bindparam("command_id"),
    )


@cache
def _state_query(table: Table, *, lock: bool) -> Select[Any]:
    query = select(table).where(table.c.id == bindparam("id"))
    if has_tenancy(table):
        query = query.where(table.c.tenant_id == bindparam("tenant_id"))
    return query.with_for_update() if lock else query


@cache
def _history_query(events: Table, *, limited: bool) -> Select[Any]:
    query = (
        select(events)
        .where(
            events.c.aggregate_id == bindparam("aggregate_id"),
            events.c.version > bindparam("after_version"),
        )
        .order_by(events.c.version)
    )
    return query.limit(bindparam("limit")) if limited else query


@cache
def _event_query(events: Table) -> Select[Any]:
    return select(events).where(events.c.event_id == bindparam("event_id"))


@cache
def _exists_query(table: Table) -> Select[Any]:
    return select(table.c.id).where(table.c.id == bindparam("id"))


@cache
def _tenant_row_query(table: Table) -> Select[Any]:
    query = select(table.c.id).where(table.c.id == bindparam("id"))
    if has_tenancy(table):
        query = query.where(table.c.tenant_id == bindparam("tenant_id"))
    return query


# A transaction takes its log's appending lock before the positions of its events (the settled
# horizon of fluvius.data.horizon relies on it), and wakes the log's readers (live feeds,
# relays, projectors: fluvius.data.commits) when it commits. A command's one write statement
# does both as it saves the state row, ahead of the events; other writes in a statement first.
_ANNOUNCING = (
    func.pg_advisory_xact_lock_shared(
        literal_column(str(APPENDING_LOCKS), Integer), bindparam("lock", type_=Integer)
    ).label("_announced_lock"),
    func.pg_notify(bindparam("channel"), literal_column("''")).label("_announced"),
)
_ANNOUNCE = select(*_ANNOUNCING)


@cache
def _append_statement(events: Table, dialect: str) -> Insert:
    return (
        insert(events)
        .values(transaction_id=_transaction_id(dialect))
        .returning(events.c.position, events.c.transaction_id, sort_by_parameter_order=True)
    )


@cache
def _insert_statement(table: Table) -> Insert:
    return insert(table)


@cache
def _update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    """UPDATE of `columns` in the row at a version: parameters `set_<column>`, `where_id` and
    `where_version`."""
    return (
        update(table)
        .where(table.c.id == bindparam("where_id"), table.c.version == bindparam("where_version"))
        .values({name: bindparam(f"set_{name}") for name in columns})
    )


@cache
def _write_statement(
    log: DomainLog,
    events: int,
    state: Table,
    state_columns: tuple[str, ...],
    *,
    inserts_state: bool,
    records_command: bool,
) -> Select[Any]:
    """PostgreSQL's one statement for a command's writes: `events` events appended (parameters
    `event<i>_<column>`), the state row inserted (`state_<column>`) or updated at its version
    (as `_update_statement`), the command log's entry (`command_<column>`). It returns each
    event's position, transaction id and version.

    The state row is saved first, and only once it is saved are the events appended and the
    command recorded: a row no longer at its version writes nothing and the statement returns
    no rows, so it is safe outside a transaction. Saving the row also takes the log's
    appending lock and announces the commit (`_ANNOUNCING`), before any event takes its
    position.
    """
    written = (
        insert(state).values(_row_parameters(state, "state_", state_columns))
        if inserts_state
        else _update_statement(state, state_columns)
    )
    saved = written.returning(state.c.id, *_ANNOUNCING).cte("saved")
    gate = exists(select(saved.c.id))
    appended = (
        _gated_insert(
            log.events,
            [_event_parameters(log.events, f"event{index}_") for index in range(events)],
            gate,
        )
        .returning(log.events.c.position, log.events.c.transaction_id, log.events.c.version)
        .cte("appended")
    )
    query = select(appended.c.position, appended.c.transaction_id, appended.c.version)
    if records_command:
        recorded = _gated_insert(log.commands, [_row_parameters(log.commands, "command_")], gate)
        query = query.add_cte(recorded.cte("recorded"))
    return query


def _gated_insert(
    table: Table, rows: Sequence[Mapping[str, ColumnElement[Any]]], gate: ColumnElement[bool]
) -> Insert:
    """INSERT of `rows` (expressions by column) into `table`, in their order, if `gate` holds."""
    columns = list(rows[0])
    selects = [select(*(row[name].label(name) for name in columns)).where(gate) for row in rows]
    return insert(table).from_select(
        columns, union_all(*selects) if len(selects) > 1 else selects[0]
    )


def _row_parameters(
    table: Table, prefix: str, columns: Sequence[str] | None = None
) -> dict[str, ColumnElement[Any]]:
    """`columns` (all by default) of a row of `table` as parameters `<prefix><column>`."""
    names = [column.name for column in table.c] if columns is None else columns
    return {name: bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in names}


def _event_parameters(events: Table, prefix: str) -> dict[str, ColumnElement[Any]]:
    """An event-log row as parameters `<prefix><column>`; its position is the log's, its
    transaction id the writing transaction's."""
    columns = [c.name for c in events.c if c.name not in ("position", "transaction_id")]
    row = _row_parameters(events, prefix, columns)
    row["transaction_id"] = _transaction_id("postgresql")
    return row


def _event_row(event: RecordedEvent[Event]) -> dict[str, Any]:
    """The event log's row of `event`, but its position and transaction id."""
    return {
        "event_id": event.id,
        "aggregate": event.aggregate,
        "aggregate_id": event.aggregate_id,
        "version": event.version,
        "name": event.name,
        "schema_version": event.schema_version,
        "data": event.data.model_dump(mode="json"),
        "metadata": event.metadata.model_dump(mode="json", exclude_none=True),
        "recorded_at": event.recorded_at,
    }


def _prefixed(prefix: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{name}": value for name, value in row.items()}


class EventStore:
    """Reads and writes of one domain's tables within the caller's transaction.

    With `driver`, the asyncpg connection under `connection` that holds the transaction (see
    `Database.transaction`), every statement runs directly on it, never through `connection`.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        log: DomainLog,
        *,
        driver: asyncpg.Connection | None = None,
    ) -> None:
        self.connection = connection
        self.log = log
        self.driver = driver
        self._sql_log: SqlLog = connection.sync_engine.logger

    async def _rows(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> Sequence[Mapping[Any, Any]]:
        """The rows `statement` returns."""
        if self.driver is None:
            return (await self.connection.execute(statement, parameters)).mappings().all()
        return await self._direct(statement, parameters).fetch(
            self.driver, parameters, self._sql_log
        )

    async def _count(self, statement: Executable, parameters: Mapping[str, Any]) -> int:
        """Run `statement`; the number of rows it changed."""
        if self.driver is None:
            return (await self.connection.execute(statement, parameters)).rowcount
        return await self._direct(statement, parameters).execute(
            self.driver, parameters, self._sql_log
        )

    def _direct(self, statement: Executable, parameters: Mapping[str, Any]) -> DirectStatement:
        return direct_statement(statement, tuple(sorted(parameters)), self.connection.dialect)

    async def find_command(self, tenant: str, command_id: str) -> StoredCommand | None:
        """The command recorded under `command_id`, if any."""
        query = _command_query(self.log.commands)
        rows = await self._rows(query, {"tenant_id": tenant, "command_id": command_id})
        return StoredCommand(**rows[0]) if rows else None

    async def load_state(
        self,
        aggregate_type: type[Aggregate[Any]],
        aggregate_id: uuid.UUID,
        *,
        tenant: str | None,
        lock: bool = False,
    ) -> State | None:
        """The aggregate's state row; with `lock`, held until the transaction ends."""
        table = storage_of(aggregate_type).table
        parameters: dict[str, Any] = {"id": aggregate_id}
        if has_tenancy(table):
            parameters["tenant_id"] = _required_tenant(table, tenant)
        rows = await self._rows(_state_query(table, lock=lock), parameters)
        return aggregate_type.state_type.model_validate(rows[0]) if rows else None

    async def history(
        self,
        aggregate_type: type[Aggregate[Any]],
        aggregate_id: uuid.UUID,
        *,
        after_version: int = 0,
        limit: int | None = None,
    ) -> list[RecordedEvent[Event]]:
        """The aggregate's events after `after_version` (at most `limit`), oldest first."""
        parameters: dict[str, Any] = {"aggregate_id": aggregate_id, "after_version": after_version}
        if limit is not None:
            parameters["limit"] = limit
        rows = await self._rows(
            _history_query(self.log.events, limited=limit is not None), parameters
        )
        return [recorded_event(aggregate_type, row) for row in rows]

    async def event(
        self, aggregates: Sequence[type[Aggregate[Any]]], event_id: uuid.UUID
    ) -> RecordedEvent[Event] | None:
        """The event with `event_id` in this domain's log, typed by its aggregate."""
        by_name = {aggregate.name: aggregate for aggregate in aggregates}
        rows = await self._rows(_event_query(self.log.events), {"event_id": event_id})
        return recorded_event(by_name[rows[0]["aggregate"]], rows[0]) if rows else None

    async def exists(self, table: Table, aggregate_id: uuid.UUID) -> bool:
        """True when a state row with this id exists, in any tenant."""
        return bool(await self._rows(_exists_query(table), {"id": aggregate_id}))

    async def exists_in_tenant(
        self, table: Table, aggregate_id: uuid.UUID, *, tenant: str | None
    ) -> bool:
        """True when a state row with this id exists in `tenant` (when the table has tenants)."""
        parameters: dict[str, Any] = {"id": aggregate_id}
        if has_tenancy(table):
            parameters["tenant_id"] = _required_tenant(table, tenant)
        return bool(await self._rows(_tenant_row_query(table), parameters))

    async def find_upload(self, table: Table, upload_id: uuid.UUID) -> UploadRecord | None:
        """The upload `upload_id` (fluvius.data.uploads), if it exists."""
        rows = await self._rows(upload_query(table), {"id": upload_id})
        return UploadRecord.of(rows[0]) if rows else None

    async def use_upload(self, table: Table, upload_id: uuid.UUID, now: dt.datetime) -> None:
        """Record that a command keeps the upload `upload_id`: it no longer expires."""
        await self._count(use_statement(table), {"upload_id": upload_id, "now": now})

    async def append(
        self,
        aggregate: str,
        aggregate_id: uuid.UUID,
        after_version: int,
        events: Sequence[Event],
        metadata: EventMetadata,
        recorded_at: dt.datetime,
    ) -> list[RecordedEvent[Event]]:
        """Append `events` at versions after_version+1.. ; a taken version raises IntegrityError."""
        return await self.write(
            new_events(aggregate, aggregate_id, after_version, events, metadata, recorded_at)
        )

    def _announcing(self) -> dict[str, Any]:
        """The parameters of the announcing columns (`_ANNOUNCING`) for this store's log."""
        return {"channel": self.log.channel, "lock": self.log.appending_lock}

    async def write(
        self,
        events: Sequence[RecordedEvent[Event]],
        *,
        state: StateChange | None = None,
        command: CommandEntry | None = None,
    ) -> list[RecordedEvent[Event]]:
        """Write a command's changes: `events` (from `new_events`) at their versions, the state
        row, the command log's entry; the events as recorded, with their positions and
        transaction id. A taken version or command id raises IntegrityError, a state row no
        longer at `state.previous_version` StaleState.

        Run directly on asyncpg (see `Database.transaction`), the writes of one or more events
        are one statement, one round trip (data-modifying CTEs); with a state row, a statement
        that needs no transaction around it (`_write_statement`). Otherwise they are a
        statement each: on SQLite, which has no network between them, and under SQLAlchemy's
        statement listeners, which expect to see each write. On PostgreSQL those take the
        log's appending lock ahead of the events' positions, and wake the log's readers at
        commit, in a statement before them.
        """
        if self.driver is not None and events and state is not None:
            written = await self._write_together(events, state, command)
        else:
            if events and self.connection.dialect.name == "postgresql":
                await self._rows(_ANNOUNCE, self._announcing())
            written = await self._write_in_turn(events, state, command)
        by_version = {row["version"]: row for row in written}
        return [
            replace(
                event,
                position=by_version[event.version]["position"],
                transaction_id=by_version[event.version]["transaction_id"],
            )
            for event in events
        ]

    async def _write_together(
        self,
        events: Sequence[RecordedEvent[Event]],
        state: StateChange,
        command: CommandEntry | None,
    ) -> Sequence[Mapping[str, Any]]:
        parameters = self._announcing()
        for index, event in enumerate(events):
            parameters.update(_prefixed(f"event{index}_", _event_row(event)))
        row = state.row()
        if state.previous_version == 0:
            parameters.update(_prefixed("state_", row))
        else:
            parameters.update(_prefixed("set_", row))
            parameters.update(where_id=state.state.id, where_version=state.previous_version)
        if command is not None:
            parameters.update(_prefixed("command_", command.row()))
        statement = _write_statement(
            self.log,
            len(events),
            state.table,
            tuple(row),
            inserts_state=state.previous_version == 0,
            records_command=command is not None,
        )
        written = await self._rows(statement, parameters)
        if not written:
            raise state.stale()
        return written

    async def _write_in_turn(
        self,
        events: Sequence[RecordedEvent[Event]],
        state: StateChange | None,
        command: CommandEntry | None,
    ) -> list[Mapping[str, Any]]:
        statement = _append_statement(self.log.events, self.connection.dialect.name)
        written = [(await self._rows(statement, _event_row(event)))[0] for event in events]
        if state is not None:
            await self.save_state(
                state.table,
                state.state,
                previous_version=state.previous_version,
                tenant=state.tenant,
            )
        if command is not None:
            await self._count(_insert_statement(self.log.commands), command.row())
        return [
            {**returned, "version": event.version}
            for returned, event in zip(written, events, strict=True)
        ]

    async def save_state(
        self,
        table: Table,
        state: State,
        *,
        previous_version: int,
        tenant: str | None,
    ) -> None:
        """Insert the row of a new aggregate, or update it from `previous_version`."""
        change = StateChange(table, state, previous_version=previous_version, tenant=tenant)
        row = change.row()
        if previous_version == 0:
            await self._count(_insert_statement(table), row)
            return
        parameters = _prefixed("set_", row)
        parameters.update(where_id=state.id, where_version=previous_version)
        if await self._count(_update_statement(table, tuple(row)), parameters) != 1:
            raise change.stale()


def recorded_event(
    aggregate_type: type[Aggregate[Any]], row: Row[Any] | Mapping[str, Any]
) -> RecordedEvent[Event]:
    """An event-log row as a typed event of `aggregate_type`."""
    values = row._mapping if isinstance(row, Row) else row
    return RecordedEvent(
        position=values["position"],
        id=values["event_id"],
        aggregate=values["aggregate"],
        aggregate_id=values["aggregate_id"],
        version=values["version"],
        name=values["name"],
        schema_version=values["schema_version"],
        data=aggregate_type.load_event(values["name"], values["schema_version"], values["data"]),
        metadata=EventMetadata.model_validate(values["metadata"]),
        recorded_at=values["recorded_at"],
        transaction_id=values["transaction_id"],
    )
