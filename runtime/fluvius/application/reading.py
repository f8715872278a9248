"""What `self.read` reads during a command: states in the command's transaction and tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from fluvius.domain.messages import State

if TYPE_CHECKING:
    import uuid

    from fluvius.data.store import EventStore
    from fluvius.domain.aggregate import Aggregate

T = TypeVar("T", bound=State)


@dataclass(frozen=True)
class TransactionReader:
    """Reads state rows through the command's store, so on its connection and in its
    transaction, without locking them, and only those of `tenant`."""

    store: EventStore
    tenant: str | None

    async def read(self, aggregate: type[Aggregate[T]], aggregate_id: uuid.UUID) -> T | None:
        """The state of `aggregate` `aggregate_id` in the tenant, or None."""
        state = await self.store.load_state(aggregate, aggregate_id, tenant=self.tenant)
        return cast("T | None", state)
