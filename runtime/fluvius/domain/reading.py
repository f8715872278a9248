"""How a handler reads other aggregates: `await self.read(Product, product_id)`.

The domain model names what it reads; the command processor supplies a `StateReader` that reads
in the command's own transaction and the caller's tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from fluvius.domain.messages import State

if TYPE_CHECKING:
    import uuid

    from fluvius.domain.aggregate import Aggregate

T = TypeVar("T", bound=State)


class StateReader(Protocol):
    """Reads the current state of any aggregate, or None when it does not exist for the caller."""

    async def read(self, aggregate: type[Aggregate[T]], aggregate_id: uuid.UUID) -> T | None:
        """The state of `aggregate` `aggregate_id`, or None."""
        ...


class NoReader:
    """The reader of an aggregate outside a command: it has no transaction to read in."""

    async def read(self, aggregate: type[Aggregate[Any]], aggregate_id: uuid.UUID) -> NoReturn:
        raise RuntimeError(
            f"cannot read {aggregate.qualified_name()} {aggregate_id}: self.read works while "
            "the command processor (or fluvius.testing's scenario) runs a command"
        )
