"""The data layer: engines, tables, where aggregates are stored, the event store, the ordered log
reader, replay and verify."""

from fluvius.data.driver import Database, async_url
from fluvius.data.mapping import Storage, map_aggregate, storage_of
from fluvius.data.reader import Checkpoint, Checkpoints, LogReader
from fluvius.data.replay import ReplayReport, VerifyReport, replay, verify
from fluvius.data.store import EventStore, recorded_event
from fluvius.data.tables import (
    DomainLog,
    RuntimeTables,
    checkpoint_table,
    domain_log,
    new_metadata,
    projection_table,
    runtime_tables,
    state_table,
    view_table,
)
from fluvius.data.types import Money, UtcDateTime, json_type

__all__ = [
    "Checkpoint",
    "Checkpoints",
    "Database",
    "DomainLog",
    "EventStore",
    "LogReader",
    "Money",
    "ReplayReport",
    "RuntimeTables",
    "Storage",
    "UtcDateTime",
    "VerifyReport",
    "async_url",
    "checkpoint_table",
    "domain_log",
    "json_type",
    "map_aggregate",
    "new_metadata",
    "projection_table",
    "recorded_event",
    "replay",
    "runtime_tables",
    "state_table",
    "storage_of",
    "verify",
    "view_table",
]
