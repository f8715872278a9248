"""The data layer: engines, tables, the event store, the ordered log reader, replay and verify."""

from fluvius.data.driver import Database, async_url
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
    "UtcDateTime",
    "VerifyReport",
    "async_url",
    "checkpoint_table",
    "domain_log",
    "json_type",
    "new_metadata",
    "projection_table",
    "recorded_event",
    "replay",
    "runtime_tables",
    "state_table",
    "verify",
]
