"""A failure between the event insert and the commit leaves nothing behind."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database
from tests.runtime.bank import Account, Deposit, OpenAccount, log
from tests.runtime.helpers import count, stored_state, versions


class InjectedError(Exception):
    pass


async def test_failure_after_the_event_insert_rolls_everything_back(
    database: Database, processor: CommandProcessor
) -> None:
    account = (
        await processor.execute(Account, OpenAccount(owner="ann", initial_deposit=Decimal(5)))
    ).aggregate_id
    events, commands = await count(database, log.events), await count(database, log.commands)
    inserted_event = False

    def fail_on_command_record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal inserted_event
        if statement.startswith(f"INSERT INTO {log.events.name}"):
            inserted_event = True
        if statement.startswith(f"INSERT INTO {log.commands.name}"):
            raise InjectedError

    event.listen(database.write.sync_engine, "before_cursor_execute", fail_on_command_record)
    try:
        with pytest.raises(InjectedError):
            await processor.execute(Account, Deposit(amount=Decimal(10)), account)
    finally:
        event.remove(database.write.sync_engine, "before_cursor_execute", fail_on_command_record)
    assert inserted_event, "the failure must come after the events were inserted"
    assert (await count(database, log.events), await count(database, log.commands)) == (
        events,
        commands,
    )
    assert await versions(database, account) == [1]
    state = await stored_state(database, account)
    assert state is not None
    assert (state.version, state.balance) == (1, 5)
