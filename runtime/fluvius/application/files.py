"""A command's file fields: each upload it names is checked, kept, and put in the command as the
file's metadata, within the command's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from fluvius.domain.errors import FileRejected, FileTooLarge, UnsupportedFileType
from fluvius.domain.files import FileInfo, FileRule

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import Table

    from fluvius.data.store import EventStore
    from fluvius.domain.messages import Command


async def resolve_files(
    store: EventStore,
    uploads: Table | None,
    rules: Mapping[str, FileRule],
    command: Command,
    *,
    user: str | None,
    tenant: str | None,
    now: dt.datetime,
) -> Command:
    """`command` with each file field's upload checked against its rule and resolved into its
    metadata; the uploads no longer expire. FileRejected (or its kinds) names the field.

    Metadata already resolved (which Python code may pass on, from an event) is taken as is: a
    request's payload can only name an upload (fluvius.domain.files.Upload)."""
    if not rules:
        return command
    if uploads is None:
        raise LookupError(f"{command.command_name} has file fields but no upload table")
    resolved: dict[str, Any] = {}
    for name, rule in rules.items():
        value = getattr(command, name)
        if not isinstance(value, FileInfo) or value.resolved:
            continue
        record = await store.find_upload(uploads, uuid.UUID(value.id))
        error = f"{name}: upload {value.id}"
        if record is None or record.tenant_id != (tenant or "") or record.owner != (user or ""):
            raise _refused(FileRejected, name, f"{error} does not exist")
        if not record.usable(now):
            raise _refused(FileRejected, name, f"{error} has expired; upload the file again")
        if rule.max_size is not None and record.size > rule.max_size:
            message = f"{error} has {record.size} bytes; {name} takes at most {rule.max_size}"
            raise _refused(FileTooLarge, name, message)
        if not rule.accepts_type(record.content_type):
            accepted = ", ".join(rule.content_types)
            message = f"{error} is {record.content_type}; {name} takes {accepted}"
            raise _refused(UnsupportedFileType, name, message)
        await store.use_upload(uploads, record.id, now)
        resolved[name] = record.info()
    return command.model_copy(update=resolved)


def _refused(kind: type[FileRejected], field: str, message: str) -> FileRejected:
    return kind(message, [{"field": field, "message": message, "code": kind.code}])
