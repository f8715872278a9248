"""The tables of a service: per domain an event log and a command log, per aggregate a state table.

Generated code declares its tables through these builders, so every service has the same layout.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from fluvius.data.types import UtcDateTime, json_type

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
CHECKPOINT_TABLE = "fluvius_checkpoint"
JOB_TABLE = "fluvius_job"
PROJECTION_TABLE = "fluvius_projection"
DEAD_LETTER_TABLE = "fluvius_dead_letter"
UPLOAD_TABLE = "fluvius_upload"
VIEW_CHANGE_TABLE = "fluvius_view_change"
NAME_LENGTH = 64
# The first half of the two-part key of the PostgreSQL advisory lock a log's appending
# transactions share (DomainLog.appending_lock); locks of one 64-bit key never meet it.
APPENDING_LOCKS = 0x6C697665
TENANT_LENGTH = 64

# SQLite only auto-numbers an INTEGER PRIMARY KEY.
_Position = BigInteger().with_variant(Integer(), "sqlite")


def new_metadata() -> MetaData:
    """A MetaData whose constraints and indexes get stable names (migrations depend on them)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


@dataclass(frozen=True)
class DomainLog:
    """The append-only tables of one domain."""

    domain: str
    events: Table
    commands: Table

    @property
    def channel(self) -> str:
        """The PostgreSQL NOTIFY channel a commit to this log announces itself on."""
        return f"fluvius_{self.events.name}"

    @property
    def appending_lock(self) -> int:
        """The second half of the key (after APPENDING_LOCKS) of the transaction-level advisory
        lock, shared, that each transaction appending to this log holds from before it takes
        its positions until it ends (PostgreSQL; fluvius.data.horizon waits on its holders).
        Advisory locks belong to one database, so other databases' transactions never hold it."""
        return zlib.crc32(self.events.name.encode()) & 0x7FFFFFFF


def domain_log(metadata: MetaData, domain: str) -> DomainLog:
    """Declare `<domain>_event` and `<domain>_command` in `metadata`."""
    events = Table(
        f"{domain}_event",
        metadata,
        Column("position", _Position, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("aggregate", String(NAME_LENGTH), nullable=False),
        Column("aggregate_id", Uuid, nullable=False),
        Column("version", Integer, nullable=False),
        Column("name", String(NAME_LENGTH), nullable=False),
        Column("schema_version", Integer, nullable=False),
        Column("data", json_type(), nullable=False),
        Column("metadata", json_type(), nullable=False),
        Column("transaction_id", BigInteger, nullable=False),
        Column("recorded_at", UtcDateTime, nullable=False),
        UniqueConstraint("aggregate_id", "version"),
        Index(None, "transaction_id", "position"),
    )
    commands = Table(
        f"{domain}_command",
        metadata,
        Column("tenant_id", String(TENANT_LENGTH), nullable=False),
        Column("command_id", String(200), nullable=False),
        Column("aggregate", String(NAME_LENGTH), nullable=False),
        Column("aggregate_id", Uuid, nullable=False),
        Column("name", String(NAME_LENGTH), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("response", json_type(), nullable=False),
        Column("recorded_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("tenant_id", "command_id"),
    )
    return DomainLog(domain, events, commands)


def state_table(metadata: MetaData, name: str, *columns: Column[object], tenancy: bool) -> Table:
    """Declare a state table: id, version, timestamps, tenant_id with tenancy, then `columns`."""
    tenant = [Column("tenant_id", String(TENANT_LENGTH), nullable=False, index=True)]
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("version", Integer, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        *(tenant if tenancy else []),
        *columns,
    )


def view_table(
    metadata: MetaData, name: str, *columns: Column[object], key: str, tenancy: bool
) -> Table:
    """Declare a view's table: tenant_id with tenancy, then `columns`, keyed by the column `key`
    (within the tenant)."""
    tenant = [Column("tenant_id", String(TENANT_LENGTH), nullable=False)]
    keys = ["tenant_id", key] if tenancy else [key]
    return Table(
        name,
        metadata,
        *(tenant if tenancy else []),
        *columns,
        PrimaryKeyConstraint(*keys),
    )


def checkpoint_table(metadata: MetaData) -> Table:
    """Declare `fluvius_checkpoint`: how far each relay or subscriber has read each log."""
    return Table(
        CHECKPOINT_TABLE,
        metadata,
        Column("name", String(200), primary_key=True),
        Column("transaction_id", BigInteger, nullable=False),
        Column("position", BigInteger, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    )


def projection_table(metadata: MetaData) -> Table:
    """Declare `fluvius_projection`: the fingerprint of the projection behind each state table."""
    return Table(
        PROJECTION_TABLE,
        metadata,
        Column("aggregate", String(2 * NAME_LENGTH + 1), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("recorded_at", UtcDateTime, nullable=False),
    )


def view_change_table(metadata: MetaData) -> Table:
    """Declare `fluvius_view_change`: each change a view's projector made to a row, numbered
    from 1 in the order it made them (`position`, per view), for live subscribers to the view.

    `event` is the event that made the change as live messages carry it, `row` the row after
    it as a GET replies it, or the row it deleted when `deleted`."""
    return Table(
        VIEW_CHANGE_TABLE,
        metadata,
        Column("view", String(2 * NAME_LENGTH + 1), primary_key=True),
        Column("position", BigInteger, primary_key=True, autoincrement=False),
        Column("tenant_id", String(TENANT_LENGTH)),
        Column("row_key", String(256), nullable=False),
        Column("event", json_type(), nullable=False),
        Column("row", json_type(), nullable=False),
        Column("deleted", Boolean, nullable=False),
    )


def job_table(metadata: MetaData) -> Table:
    """Declare `fluvius_job`: one row per (worker, event or tick), its status and attempts.

    It keeps each job's outcome (so a job runs once, and `fluvius workers` can count), and
    without Redis it is the queue itself.
    """
    return Table(
        JOB_TABLE,
        metadata,
        Column("worker", String(NAME_LENGTH), primary_key=True),
        Column("job_key", String(NAME_LENGTH), primary_key=True),
        Column("domain", String(NAME_LENGTH), nullable=False),
        Column("event_id", Uuid),
        Column("scheduled_at", UtcDateTime),
        Column("status", String(16), nullable=False, index=True),
        Column("attempts", Integer, nullable=False),
        Column("available_at", UtcDateTime, nullable=False),
        Column("error", Text),
        Column("updated_at", UtcDateTime, nullable=False),
    )


def dead_letter_table(metadata: MetaData) -> Table:
    """Declare `fluvius_dead_letter`: jobs that failed every retry, with their last error."""
    return Table(
        DEAD_LETTER_TABLE,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("worker", String(NAME_LENGTH), nullable=False),
        Column("job_key", String(NAME_LENGTH), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("error", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("requeued_at", UtcDateTime),
    )


def upload_table(metadata: MetaData) -> Table:
    """Declare `fluvius_upload`: each file received by `POST /media`, whose bytes are in the
    media store under its id; `used_at` is set once a command records it, else it expires."""
    return Table(
        UPLOAD_TABLE,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("tenant_id", String(TENANT_LENGTH), nullable=False),
        Column("owner", String(200), nullable=False),
        Column("name", String(255), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("content_type", String(255), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("expires_at", UtcDateTime, nullable=False, index=True),
        Column("used_at", UtcDateTime),
    )


@dataclass(frozen=True)
class RuntimeTables:
    """The tables fluvius keeps for itself in every service."""

    checkpoints: Table
    projections: Table
    jobs: Table
    dead_letters: Table
    view_changes: Table
    uploads: Table | None = None


def runtime_tables(metadata: MetaData) -> RuntimeTables:
    """Declare fluvius's own tables in `metadata`."""
    return RuntimeTables(
        checkpoint_table(metadata),
        projection_table(metadata),
        job_table(metadata),
        dead_letter_table(metadata),
        view_change_table(metadata),
        upload_table(metadata),
    )
