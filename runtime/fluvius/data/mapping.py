"""Where each aggregate is stored: its state table, its domain's log, the tables its refs name.

The domain model knows nothing of storage. A service maps its aggregates when it is built
(`fluvius.service.Service`), as SQLAlchemy's imperative mapping maps plain classes to tables;
the processor, the store and replay look the mapping up. A subclass of a mapped aggregate is
stored where its base is, unless mapped itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Table

    from fluvius.data.tables import DomainLog
    from fluvius.domain.aggregate import Aggregate


@dataclass(frozen=True)
class Storage:
    """An aggregate's state table and its domain's log; `refs` maps the names of the aggregates
    its commands refer to (`domain.aggregate`) to their state tables; `uploads` is the table
    of uploads its file fields take."""

    table: Table
    log: DomainLog
    refs: Mapping[str, Table] = field(default_factory=dict)
    uploads: Table | None = None


_MAPPED: dict[type[Aggregate[Any]], Storage] = {}


def map_aggregate(aggregate: type[Aggregate[Any]], storage: Storage) -> None:
    """Store `aggregate` as `storage` says; mapping it again elsewhere is an error."""
    mapped = _MAPPED.setdefault(aggregate, storage)
    if mapped != storage:
        raise ValueError(f"{aggregate.qualified_name()} is already mapped to {mapped.table.name}")


def storage_of(aggregate: type[Aggregate[Any]]) -> Storage:
    """Where `aggregate` is stored: as it is mapped, else as the nearest of its bases is, else as
    its mapped subclasses are (a generated base class, which contract tests run, is stored as
    the user's class over it)."""
    for cls in aggregate.__mro__:
        if (storage := _MAPPED.get(cls)) is not None:
            return storage
    below = [storage for cls, storage in _MAPPED.items() if issubclass(cls, aggregate)]
    if below and all(storage == below[0] for storage in below):
        return below[0]
    raise LookupError(
        f"{aggregate.qualified_name()} is mapped to no table: its service maps it when built"
    )
