"""Given events, when a command, then events and state: contract tests of one aggregate.

outcome = await scenario.given(Account, AccountOpened(owner="ann", ...)).when(Deposit(amount=5))
assert outcome.events == [MoneyDeposited(amount=5)]
assert outcome.state.balance == 105

`when` takes the caller and the instant the command runs at, for rules that read `self.context`:

moment = dt.datetime(2024, 1, 15, 9, 30, tzinfo=dt.UTC)
outcome = await given.when(Withdraw(amount=5), user="ann", roles=("customer",), now=moment)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar, cast

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

TEST_TENANT = "tenant-1"
GIVEN_USER = "given"


class Scenario:
    """Contract tests against a real database, through the real command processor."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.processor = CommandProcessor(database)

    def given(self, aggregate: type[Aggregate[S]], *events: Event) -> Given[S]:
        """An aggregate whose history is `events` (none: it does not exist yet)."""
        tenant = TEST_TENANT if has_tenancy(storage_of(aggregate).table) else None
        return Given(self, aggregate, events, tenant)


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
    ) -> Outcome[S]:
        """Record the history, run `command` on the aggregate, and read back what it did.

        `user` and `roles` are the caller, `now` the command's instant (the clock's by default).
        """
        aggregate_id = uuid7()
        if self.events:
            await self._record_history(aggregate_id)
        result = await self.scenario.processor.execute(
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
