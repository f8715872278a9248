"""Given events, when a command, then events and state: contract tests of one aggregate.

outcome = await scenario.given(Account, AccountOpened(owner="ann", ...)).when(Deposit(amount=5))
assert outcome.events == [MoneyDeposited(amount=5)]
assert outcome.state.balance == 105

`when` takes the caller and the instant the command runs at, for rules that read `self.context`,
and the services the handler sees as `self.services` (by default the `services` fixture's):

moment = dt.datetime(2024, 1, 15, 9, 30, tzinfo=dt.UTC)
outcome = await given.when(Withdraw(amount=5), user="ann", roles=("customer",), now=moment)
outcome = await given.when(Withdraw(amount=5), services=Services(fraud=FakeFraudCheck()))

`with_state` stores the state of another aggregate, which `self.read` then returns:

kettle = ProductState(id=uuid7(), title="Kettle", price=Decimal("12.50"), version=1)
outcome = await scenario.given(Order).with_state(Product, kettle).when(PlaceOrder(...))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from fluvius.application.processor import CommandContext, CommandProcessor, CommandResult, Scope
from fluvius.data.mapping import storage_of
from fluvius.data.store import EventStore, has_tenancy
from fluvius.domain.messages import Command, Event, EventMetadata, State
from fluvius.ids import uuid7

if TYPE_CHECKING:
    import uuid

    from fluvius.data.driver import Database
    from fluvius.domain.aggregate import Aggregate

S = TypeVar("S", bound=State)
T = TypeVar("T", bound=State)

TEST_TENANT = "tenant-1"
GIVEN_USER = "given"


class Scenario:
    """Contract tests against a real database, through the real command processor."""

    def __init__(self, database: Database, *, services: Any = None) -> None:
        self.database = database
        self.processor = CommandProcessor(database, services=services)

    def given(self, aggregate: type[Aggregate[S]], *events: Event) -> Given[S]:
        """An aggregate whose history is `events` (none: it does not exist yet)."""
        return Given(self, aggregate, events, _tenant_of(aggregate))


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """What a command did: the events it recorded and the state it left."""

    result: CommandResult
    events: list[Event]
    state: S


@dataclass(frozen=True)
class Given(Generic[S]):
    """An aggregate's history, waiting for the command under test."""

    scenario: Scenario
    aggregate: type[Aggregate[S]]
    events: tuple[Event, ...]
    tenant: str | None
    others: tuple[tuple[type[Aggregate[Any]], State], ...] = ()

    def with_state(self, aggregate: type[Aggregate[T]], state: T) -> Given[S]:
        """The same history, beside another aggregate (of class `aggregate`) stored at `state`:
        while the command runs, `self.read(aggregate, state.id)` returns it."""
        return replace(self, others=(*self.others, (aggregate, state)))

    async def record(self, aggregate_id: uuid.UUID | None = None) -> uuid.UUID:
        """Record the history as a new aggregate (with `aggregate_id`, or a new id), and return
        its id."""
        aggregate_id = aggregate_id or uuid7()
        await self._record_history(aggregate_id)
        return aggregate_id

    async def when(
        self,
        command: Command,
        *,
        user: str | None = None,
        roles: tuple[str, ...] = (),
        now: dt.datetime | None = None,
        scope: Scope | None = None,
        services: Any = None,
    ) -> Outcome[S]:
        """Record the history (and the other aggregates' states), run `command` on the
        aggregate, and read back what it did.

        `user` and `roles` are the caller, `now` the command's instant (the clock's by default),
        `services` what the handler sees as `self.services` (by default the scenario's).
        """
        aggregate_id = uuid7()
        if self.events:
            await self._record_history(aggregate_id)
        await self._store_others()
        processor = self.scenario.processor
        if services is not None:
            processor = CommandProcessor(self.scenario.database, services=services)
        result = await processor.execute(
            self.aggregate,
            command,
            aggregate_id,
            context=CommandContext(user=user, tenant=self.tenant, roles=roles, now=now),
            scope=scope,
        )
        async with self.scenario.database.read.connect() as connection:
            store = EventStore(connection, storage_of(self.aggregate).log)
            recorded = await store.history(
                self.aggregate, aggregate_id, after_version=len(self.events)
            )
            state = await store.load_state(self.aggregate, aggregate_id, tenant=self.tenant)
        assert state is not None, "the command left no state row"
        return Outcome(result, [event.data for event in recorded], cast("S", state))

    async def _record_history(self, aggregate_id: uuid.UUID) -> None:
        now = dt.datetime.now(dt.UTC)
        state = self.aggregate.fold(aggregate_id, self.events)
        async with self.scenario.database.write.begin() as connection:
            store = EventStore(connection, storage_of(self.aggregate).log)
            metadata = EventMetadata(user=GIVEN_USER, tenant=self.tenant)
            await store.append(self.aggregate.name, aggregate_id, 0, self.events, metadata, now)
            await store.save_state(
                storage_of(self.aggregate).table,
                state.evolve(created_at=now, updated_at=now),
                previous_version=0,
                tenant=self.tenant,
            )

    async def _store_others(self) -> None:
        """Store each other aggregate's state, unless an earlier `when` of this history did."""
        now = dt.datetime.now(dt.UTC)
        async with self.scenario.database.write.begin() as connection:
            for aggregate, state in self.others:
                storage = storage_of(aggregate)
                store = EventStore(connection, storage.log)
                if await store.exists(storage.table, state.id):
                    continue
                await store.save_state(
                    storage.table,
                    state.evolve(created_at=now, updated_at=now),
                    previous_version=0,
                    tenant=_tenant_of(aggregate),
                )


def _tenant_of(aggregate: type[Aggregate[Any]]) -> str | None:
    """The tenant of a scenario's rows of `aggregate`: the test tenant, when it has tenants."""
    return TEST_TENANT if has_tenancy(storage_of(aggregate).table) else None
