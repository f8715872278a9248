"""`fluvius verify`'s check of media: every file an event records is in the store, with the
bytes its sha256 names."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, select

from fluvius.data.mapping import storage_of
from fluvius.domain.files import FileInfo, file_fields

if TYPE_CHECKING:
    from fluvius.data.driver import Database
    from fluvius.domain.aggregate import Aggregate
    from fluvius.media import MediaStore

CHUNK = 1000


@dataclass
class FileProblem:
    """A recorded file that is missing from the store, or whose bytes changed."""

    file_id: str
    problem: str


@dataclass
class FileReport:
    """The outcome of checking the files an aggregate's events record."""

    aggregate: str
    checked: int = 0
    problems: list[FileProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def records_files(aggregate_type: type[Aggregate[Any]]) -> bool:
    """Whether any event of `aggregate_type` has a file field."""
    return any(file_fields(projector.event) for projector in aggregate_type.events.values())


async def verify_files(
    database: Database, aggregate_type: type[Aggregate[Any]], media: MediaStore
) -> FileReport:
    """Check each file that `aggregate_type`'s events record, once: present, same sha256."""
    report = FileReport(aggregate_type.qualified_name())
    events = storage_of(aggregate_type).log.events
    query = (
        select(events.c.name, events.c.schema_version, events.c.data.cast(Text))
        .where(events.c.aggregate == aggregate_type.name)
        .order_by(events.c.position)
    )
    seen: set[str] = set()
    async with database.read.connect() as connection:
        result = await connection.stream(query.execution_options(yield_per=CHUNK))
        async for name, schema_version, data in result:
            event = aggregate_type.load_event(name, schema_version, json.loads(data))
            for field_name in file_fields(type(event)):
                info = getattr(event, field_name)
                if isinstance(info, FileInfo) and info.id not in seen:
                    seen.add(info.id)
                    report.checked += 1
                    if (problem := await _file_problem(media, info)) is not None:
                        report.problems.append(FileProblem(info.id, problem))
    return report


async def _file_problem(media: MediaStore, info: FileInfo) -> str | None:
    if await media.size(info.id) is None:
        return "is missing from the media store"
    digest = hashlib.sha256()
    async for chunk in media.read(info.id):
        digest.update(chunk)
    if digest.hexdigest() != info.sha256:
        return f"has sha256 {digest.hexdigest()}, not the recorded {info.sha256}"
    return None
