"""The domain model: aggregates, their messages and errors. It knows nothing of storage.

The command processor, which runs commands against stored aggregates, composes this layer with
`fluvius.data` in the application layer, `fluvius.application`.

    class Account(AccountBase):
        @handles(Withdraw)
        def withdraw(self, command: Withdraw) -> list[Event]:
            if command.amount > self.state.balance:
                raise Rejected("insufficient-funds", "cannot withdraw more than the balance")
            return super().withdraw(command)
"""

from fluvius.domain.aggregate import (
    Aggregate,
    CommandHandler,
    Projector,
    Ref,
    applies,
    handles,
    upcasts,
)
from fluvius.domain.context import Context
from fluvius.domain.errors import (
    AlreadyExists,
    ConcurrencyError,
    DomainError,
    GuardFailed,
    IdempotencyConflict,
    InvalidCommand,
    NotFound,
    Rejected,
    ScopeDenied,
    UnknownReference,
    VersionConflict,
)
from fluvius.domain.files import FileInfo, FileRule, Upload
from fluvius.domain.messages import Command, Event, EventMetadata, RecordedEvent, State

__all__ = [
    "Aggregate",
    "AlreadyExists",
    "Command",
    "CommandHandler",
    "ConcurrencyError",
    "Context",
    "DomainError",
    "Event",
    "EventMetadata",
    "FileInfo",
    "FileRule",
    "GuardFailed",
    "IdempotencyConflict",
    "InvalidCommand",
    "NotFound",
    "Projector",
    "RecordedEvent",
    "Ref",
    "Rejected",
    "ScopeDenied",
    "State",
    "UnknownReference",
    "Upload",
    "VersionConflict",
    "applies",
    "handles",
    "upcasts",
]
