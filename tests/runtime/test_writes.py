"""A command's writes: one statement on PostgreSQL, with every guarantee of separate ones."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database, EventStore
from fluvius.data.store import CommandEntry, StaleState, StateChange, new_events, violated_table
from fluvius.domain import Event
from fluvius.domain.messages import EventMetadata, RecordedEvent
from tests.runtime.bank import (
    Account,
    AccountState,
    Deposit,
    MoneyDeposited,
    OpenAccount,
    accounts,
    log,
)
from tests.runtime.helpers import count, stored_state, versions

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

_FAIL_COMMAND_RECORD = {
    "postgresql": [
        "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
        f"CREATE TRIGGER injected_failure BEFORE INSERT ON {log.commands.name} "
        "FOR EACH ROW EXECUTE FUNCTION injected_failure()",
    ],
    "sqlite": [
        f"CREATE TRIGGER injected_failure BEFORE INSERT ON {log.commands.name} "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    ],
}


async def _open(processor: CommandProcessor) -> uuid.UUID:
    return (
        await processor.execute(Account, OpenAccount(owner="ann", initial_deposit=Decimal(5)))
    ).aggregate_id


async def _load(database: Database, aggregate_id: uuid.UUID) -> AccountState:
    state = await stored_state(database, aggregate_id)
    assert state is not None
    return state


def _deposits(*amounts: int) -> list[Event]:
    return [MoneyDeposited(amount=Decimal(amount)) for amount in amounts]


async def _write(
    database: Database,
    events: list[RecordedEvent[Event]],
    *,
    state: StateChange | None = None,
    command: CommandEntry | None = None,
    atomic: bool = True,
) -> list[RecordedEvent[Event]]:
    """`EventStore.write` in a write transaction of its own, or none (see
    `Database.transaction`): one statement on PostgreSQL."""
    async with database.transaction(atomic=atomic) as transaction:
        store = EventStore(transaction.connection, log, driver=transaction.driver)
        return await store.write(events, state=state, command=command)


async def test_a_failure_in_the_command_record_leaves_nothing_behind(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _open(processor)
    events, commands = await count(database, log.events), await count(database, log.commands)
    async with database.write.begin() as connection:
        for statement in _FAIL_COMMAND_RECORD[database.dialect]:
            await connection.execute(text(statement))
    with pytest.raises(DBAPIError, match="injected failure"):
        await processor.execute(Account, Deposit(amount=Decimal(10)), account)
    assert (await count(database, log.events), await count(database, log.commands)) == (
        events,
        commands,
    )
    assert await versions(database, account) == [1]
    state = await _load(database, account)
    assert (state.version, state.balance) == (1, 5)


async def test_the_events_of_one_write_get_positions_in_version_order_and_its_transaction(
    database: Database, processor: CommandProcessor
) -> None:
    account = await _open(processor)
    state = await _load(database, account)
    metadata = EventMetadata(user="ann")
    events = new_events("account", account, 1, _deposits(1, 2, 3), metadata, NOW)
    change = StateChange(
        accounts, state.evolve(version=4, balance=Decimal(11)), previous_version=1, tenant=None
    )
    recorded = await _write(database, events, state=change)
    assert [event.version for event in recorded] == [2, 3, 4]
    query = select(log.events.c.position, log.events.c.transaction_id).where(
        log.events.c.aggregate_id == account, log.events.c.version > 1
    )
    async with database.read.connect() as connection:
        stored = (await connection.execute(query.order_by(log.events.c.version))).all()
    assert [(event.position, event.transaction_id) for event in recorded] == [
        tuple(row) for row in stored
    ]
    positions = [event.position for event in recorded]
    assert positions == sorted(positions)
    assert len({event.transaction_id for event in recorded}) == 1
    if database.dialect == "postgresql":
        assert recorded[0].transaction_id > 0
    assert (await _load(database, account)).balance == 11


@pytest.mark.parametrize("atomic", [True, False], ids=["in a transaction", "alone"])
async def test_a_state_row_at_another_version_refuses_the_whole_write(
    database: Database, processor: CommandProcessor, atomic: bool
) -> None:
    account = await _open(processor)
    await processor.execute(Account, Deposit(amount=Decimal(1)), account)
    state = await _load(database, account)
    events = new_events("account", account, 2, _deposits(7), EventMetadata(), NOW)
    stale = StateChange(accounts, state.evolve(version=3), previous_version=1, tenant=None)
    with pytest.raises(StaleState):
        await _write(database, events, state=stale, command=_entry(account, "stale"), atomic=atomic)
    assert await versions(database, account) == [1, 2]
    assert (await _load(database, account)).version == 2


@pytest.mark.parametrize("taken", ["version", "command id"])
async def test_a_taken_version_or_command_id_names_its_table(
    database: Database, processor: CommandProcessor, taken: str
) -> None:
    account = await _open(processor)
    state = await _load(database, account)
    after = 0 if taken == "version" else 1
    events = new_events("account", account, after, _deposits(7), EventMetadata(), NOW)
    change = StateChange(accounts, state.evolve(version=after + 1), previous_version=1, tenant=None)
    await _write(database, [], command=_entry(account, "twice"))
    entry = _entry(account, "twice" if taken == "command id" else "once")
    with pytest.raises(IntegrityError) as raised:
        await _write(database, events, state=change, command=entry)
    expected = log.events.name if taken == "version" else log.commands.name
    assert violated_table(raised.value) == expected
    assert await versions(database, account) == [1]


def _entry(aggregate_id: uuid.UUID, command_id: str) -> CommandEntry:
    return CommandEntry(
        tenant="",
        command_id=command_id,
        aggregate="banking.account",
        aggregate_id=aggregate_id,
        name="deposit",
        request_hash="0" * 64,
        response={"id": str(aggregate_id)},
        recorded_at=NOW,
    )
