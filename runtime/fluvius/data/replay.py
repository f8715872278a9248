"""State is derived data: rebuild it from the event log (replay), or prove it matches (verify)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Column,
    MetaData,
    Select,
    Table,
    Text,
    delete,
    insert,
    select,
    text,
    type_coerce,
)
from sqlalchemy.types import NullType

from fluvius.data.mapping import storage_of
from fluvius.data.projections import record as record_projection
from fluvius.data.store import has_tenancy

if TYPE_CHECKING:
    from sqlalchemy import Dialect
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.data.driver import Database
    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Event, State

CHUNK = 5000
MAX_DIFFERENCES = 100


@dataclass(frozen=True)
class FoldedState:
    """An aggregate's state as its events produce it."""

    state: State
    tenant: str | None
    events: int

    def row(self, tenancy: bool) -> dict[str, Any]:
        row = self.state.model_dump()
        if tenancy:
            row["tenant_id"] = self.tenant
        return row


@dataclass(frozen=True)
class ReplayReport:
    """What a replay rebuilt."""

    aggregate: str
    aggregates: int
    events: int


@dataclass(frozen=True)
class Difference:
    """One way the state table departs from the fold of the events."""

    aggregate_id: uuid.UUID
    problem: str


@dataclass
class VerifyReport:
    """The outcome of comparing a state table with the fold of its events."""

    aggregate: str
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


async def folded_states(
    connection: AsyncConnection, aggregate_type: type[Aggregate[Any]]
) -> AsyncIterator[FoldedState]:
    """Every aggregate of `aggregate_type` folded from its events, in id order."""
    events = storage_of(aggregate_type).log.events
    to_id = _converter(events.c.aggregate_id, connection.dialect)
    to_time = _converter(events.c.recorded_at, connection.dialect)
    fold: _Fold | None = None
    async for rows in _chunks(connection, _log(aggregate_type)):
        for key, name, schema_version, data, tenant, recorded_at in rows:
            if fold is None or key != fold.key:
                if fold is not None:
                    yield fold.finish(to_time)
                aggregate = aggregate_type(aggregate_type.initial_state(to_id(key)))
                fold = _Fold(aggregate, key, tenant, recorded_at, recorded_at)
            fold.apply(_event(aggregate_type, name, schema_version, data), recorded_at)
    if fold is not None:
        yield fold.finish(to_time)


def _log(aggregate_type: type[Aggregate[Any]]) -> Select[Any]:
    """The aggregate's events in fold order, with only what the fold reads of each.

    Ids and times come raw, converted once per aggregate rather than per event; the data comes
    as JSON text, which the event's validator parses itself.
    """
    events = storage_of(aggregate_type).log.events
    return (
        select(
            type_coerce(events.c.aggregate_id, NullType()),
            events.c.name,
            events.c.schema_version,
            events.c.data.cast(Text),
            events.c.metadata["tenant"].as_string(),
            type_coerce(events.c.recorded_at, NullType()),
        )
        .where(events.c.aggregate == aggregate_type.name)
        .order_by(events.c.aggregate_id, events.c.version)
    )


def _event(
    aggregate_type: type[Aggregate[Any]], name: str, schema_version: int, data: str
) -> Event:
    """A stored event from its JSON text; at the current version, parsed as it is validated.

    Straight to the validator: `model_validate_json`'s wrapper would cost half as much again.
    """
    event_type = aggregate_type.events[name].event
    if schema_version == event_type.schema_version:
        return cast("Event", event_type.__pydantic_validator__.validate_json(data))
    return aggregate_type.load_event(name, schema_version, json.loads(data))


def _converter(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """What SQLAlchemy does to a value of `column` as the database returns it."""
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return process if process is not None else _unchanged


def _unchanged(value: Any) -> Any:
    return value


async def _chunks(connection: AsyncConnection, query: Select[Any]) -> AsyncIterator[Sequence[Any]]:
    """The rows of `query` in chunks, from one server-side cursor."""
    result = await connection.stream(query.execution_options(yield_per=CHUNK))
    try:
        async for rows in result.partitions():
            yield rows
    finally:
        await result.close()


@dataclass(slots=True)
class _Fold:
    """One aggregate being folded; its id (`key`) and event times as the database returns them."""

    aggregate: Aggregate[Any]
    key: Any
    tenant: str | None
    first_recorded_at: Any
    last_recorded_at: Any
    events: int = 0

    def apply(self, event: Event, recorded_at: Any) -> None:
        self.aggregate.apply(event)
        self.events += 1
        self.last_recorded_at = recorded_at

    def finish(self, to_time: Callable[[Any], Any]) -> FoldedState:
        """The folded state, created and updated at its first and last event's times."""
        state = self.aggregate.state.evolve(
            created_at=to_time(self.first_recorded_at), updated_at=to_time(self.last_recorded_at)
        )
        return FoldedState(state, self.tenant, self.events)


async def replay(
    database: Database,
    aggregate_type: type[Aggregate[Any]],
    *,
    projections: Table | None = None,
) -> ReplayReport:
    """Rebuild the aggregate's state table from the event log, atomically.

    The fold goes into a scratch table, which then replaces the table's rows in the same
    transaction. Readers see the old rows until the commit; writers wait for it. With
    `projections`, the table is recorded as built by the current projection.
    """
    table = storage_of(aggregate_type).table
    tenancy = has_tenancy(table)
    aggregates = events = 0
    async with database.write.begin() as connection:
        if connection.dialect.name == "postgresql":
            quoted = connection.dialect.identifier_preparer.format_table(table)
            await connection.execute(text(f"LOCK TABLE {quoted} IN EXCLUSIVE MODE"))
        scratch = _scratch_copy(table)
        await connection.run_sync(scratch.create)
        batch: list[dict[str, Any]] = []
        async for folded in folded_states(connection, aggregate_type):
            batch.append(folded.row(tenancy))
            aggregates += 1
            events += folded.events
            if len(batch) >= CHUNK:
                await connection.execute(insert(scratch), batch)
                batch = []
        if batch:
            await connection.execute(insert(scratch), batch)
        await connection.execute(delete(table))
        columns = [column.name for column in scratch.c]
        await connection.execute(insert(table).from_select(columns, select(scratch)))
        await connection.run_sync(scratch.drop)
        if projections is not None:
            await record_projection(connection, projections, aggregate_type)
    return ReplayReport(aggregate_type.qualified_name(), aggregates, events)


def _scratch_copy(table: Table) -> Table:
    """A temporary table with the columns of `table` and none of its constraints."""
    columns = [Column(c.name, c.type, primary_key=c.primary_key) for c in table.columns]
    return Table(f"{table.name}__replay", MetaData(), *columns, prefixes=["TEMPORARY"])


async def verify(database: Database, aggregate_type: type[Aggregate[Any]]) -> VerifyReport:
    """Compare every state row with the fold of its events, in one consistent snapshot."""
    report = VerifyReport(aggregate_type.qualified_name())
    tenancy = has_tenancy(storage_of(aggregate_type).table)
    async with database.read.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            stored = _stored_rows(connection, aggregate_type)
            row = await anext(stored, None)
            async for folded in folded_states(connection, aggregate_type):
                while row is not None and row["id"] < folded.state.id:
                    _differ(report, row["id"], "is in the state table but has no events")
                    row = await anext(stored, None)
                if row is None or row["id"] != folded.state.id:
                    _differ(report, folded.state.id, "has events but no state row")
                else:
                    _compare(report, row, folded.row(tenancy))
                    row = await anext(stored, None)
                report.checked += 1
            while row is not None:
                _differ(report, row["id"], "is in the state table but has no events")
                row = await anext(stored, None)
    return report


async def _stored_rows(
    connection: AsyncConnection, aggregate_type: type[Aggregate[Any]]
) -> AsyncIterator[dict[str, Any]]:
    table = storage_of(aggregate_type).table
    async for rows in _chunks(connection, select(table).order_by(table.c.id)):
        for row in rows:
            values = row._mapping
            state = aggregate_type.state_type.model_validate(values).model_dump()
            if "tenant_id" in values:
                state["tenant_id"] = values["tenant_id"]
            yield state


def _compare(report: VerifyReport, stored: dict[str, Any], folded: dict[str, Any]) -> None:
    for name, expected in folded.items():
        if stored.get(name) != expected:
            _differ(
                report,
                folded["id"],
                f"{name} is {stored.get(name)!r} in the state table; the events give {expected!r}",
            )


def _differ(report: VerifyReport, aggregate_id: uuid.UUID, problem: str) -> None:
    if len(report.differences) < MAX_DIFFERENCES:
        report.differences.append(Difference(aggregate_id, problem))
