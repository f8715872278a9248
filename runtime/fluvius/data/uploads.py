"""The rows of `fluvius_upload`: files received by `POST /media`, until a command records them
or they expire. The bytes are in the media store (fluvius.media), under the upload's id."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, Table, Update, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.domain.files import FileInfo


@dataclass(frozen=True)
class UploadRecord:
    """One upload: whose it is (tenant and owner), what it is, and until when it waits."""

    id: uuid.UUID
    tenant_id: str
    owner: str
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> UploadRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def info(self) -> FileInfo:
        """The file's metadata as events and state record it."""
        return FileInfo(
            id=str(self.id),
            name=self.name,
            size=self.size,
            sha256=self.sha256,
            content_type=self.content_type,
        )

    def usable(self, now: dt.datetime) -> bool:
        """Recorded by a command already, or not expired yet."""
        return self.used_at is not None or self.expires_at > now


def upload_query(table: Table) -> Select[Any]:
    """The upload whose id is the parameter `id`."""
    return select(table).where(table.c.id == bindparam("id"))


def use_statement(table: Table) -> Update:
    """Mark the upload `upload_id` as recorded at `now`: it no longer expires."""
    return (
        update(table)
        .where(table.c.id == bindparam("upload_id"), table.c.used_at.is_(None))
        .values(used_at=bindparam("now"))
    )


async def record_upload(connection: AsyncConnection, table: Table, record: UploadRecord) -> None:
    """Insert `record`."""
    await connection.execute(insert(table), asdict(record))


async def find_upload(
    connection: AsyncConnection, table: Table, upload_id: uuid.UUID
) -> UploadRecord | None:
    """The upload `upload_id`, if it exists."""
    row = (await connection.execute(upload_query(table), {"id": upload_id})).mappings().first()
    return UploadRecord.of(row) if row is not None else None


async def expired_uploads(
    connection: AsyncConnection, table: Table, now: dt.datetime, limit: int
) -> Sequence[uuid.UUID]:
    """Up to `limit` uploads that no command recorded before they expired."""
    query = (
        select(table.c.id)
        .where(table.c.used_at.is_(None), table.c.expires_at <= now)
        .order_by(table.c.expires_at)
        .limit(limit)
    )
    return list((await connection.execute(query)).scalars())


async def forget_upload(
    connection: AsyncConnection, table: Table, upload_id: uuid.UUID, now: dt.datetime
) -> bool:
    """Delete the row of `upload_id` if it is still unused and expired; whether it was."""
    statement = delete(table).where(
        table.c.id == upload_id, table.c.used_at.is_(None), table.c.expires_at <= now
    )
    return (await connection.execute(statement)).rowcount == 1
