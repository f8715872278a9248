"""Typed errors of command processing, so callers map them without matching strings."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error fluvius raises about a command or a query. `code` is stable."""

    code = "domain-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The aggregate does not exist (or is outside the caller's tenant)."""

    code = "not-found"


class AlreadyExists(DomainError):
    """A creating command named an id that is taken."""

    code = "already-exists"


class GuardFailed(DomainError):
    """A declared `requires` guard does not hold for the aggregate's state."""

    code = "requirement-failed"


class Rejected(DomainError):
    """User code refused the command: `raise Rejected("insufficient-funds", "...")`."""

    code = "rejected"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


class VersionConflict(DomainError):
    """The caller expected another version of the aggregate than the stored one."""

    code = "version-conflict"


class ConcurrencyError(DomainError):
    """Concurrent writers kept conflicting after every retry."""

    code = "concurrency-conflict"


class IdempotencyConflict(DomainError):
    """A command id was used before for a different command, payload or aggregate."""

    code = "idempotency-key-reused"


class ScopeDenied(DomainError):
    """The caller's role is limited to aggregates it owns, and the one it would create is not."""

    code = "forbidden"


class InvalidCommand(DomainError):
    """The command's payload does not validate."""

    code = "invalid-command"

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message, errors=errors)
        self.errors = errors


class UnknownReference(InvalidCommand):
    """A field of the command refers to an aggregate that does not exist in the caller's tenant."""

    code = "unknown-reference"


class FileRejected(InvalidCommand):
    """A file field names an upload that does not exist, has expired, or is not the caller's."""

    code = "invalid-file"


class FileTooLarge(FileRejected):
    """A file is over the size its field (or the service) accepts."""

    code = "file-too-large"


class UnsupportedFileType(FileRejected):
    """A file's content type, read from its bytes, is not one its field accepts."""

    code = "unsupported-file-type"
