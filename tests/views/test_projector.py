"""A view's projector: the fold of the log into rows, exactly once, one instance at a time,
and rebuilt when its definition changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from fluvius.application import CommandContext, CommandProcessor
from fluvius.data import Database
from fluvius.worker.projector import Projector
from tests.runtime.bank import Account, Deposit, OpenAccount, TenantAccount
from tests.views.service import (
    kinds_table,
    kinds_view,
    owners_table,
    owners_view,
    tenant_owners_table,
    view_service,
)

WAIT_S = 30


async def _rows(database: Database) -> dict[str, dict[str, Any]]:
    async with database.write.connect() as connection:
        found = (await connection.execute(select(owners_table))).mappings().all()
    return {row["owner"]: dict(row) for row in found}


async def _project(projector: Projector, events: int) -> None:
    """Run rounds until `events` have been read: on PostgreSQL the gap-safe reader waits for
    every older transaction of the server to end, so one round may find nothing yet."""
    read = 0
    async with asyncio.timeout(WAIT_S):
        while read < events:
            read += await projector.run_once()
            await asyncio.sleep(0.05)
    assert read == events


async def _open(processor: CommandProcessor, owner: str, deposit: str) -> uuid.UUID:
    opened = await processor.execute(
        Account, OpenAccount(owner=owner, initial_deposit=Decimal(deposit))
    )
    return opened.aggregate_id


async def test_the_view_is_the_fold_of_the_log(
    database: Database, processor: CommandProcessor
) -> None:
    view = owners_view()
    projector = Projector(view_service(view), view, database, batch=2)
    first = await _open(processor, "ann", "10.50")
    await _open(processor, "bob", "1")
    last = await _open(processor, "ann", "2")
    await processor.execute(Account, Deposit(amount=Decimal(5)), first)  # not in the view

    await _project(projector, 4)
    rows = await _rows(database)
    assert rows["ann"]["accounts"] == 2
    assert rows["ann"]["balance"] == Decimal("12.50")
    assert rows["ann"]["last_account"] == str(last)
    assert (rows["bob"]["accounts"], rows["bob"]["balance"]) == (1, Decimal(1))
    assert view.progress.checkpoints["banking"].position == 4
    assert await projector.catch_up() == 0  # nothing is applied twice


async def test_instances_apply_each_event_once(
    database: Database, processor: CommandProcessor
) -> None:
    view = owners_view()
    service = view_service(view)
    for _ in range(30):
        await _open(processor, "ann", "1")
    projectors = [Projector(service, view, database, batch=3) for _ in range(3)]
    rounds = [_project_some(projector) for projector in projectors]
    read = sum(await asyncio.gather(*rounds))
    await _project(projectors[0], 30 - read)  # the rest, if the lease kept them all waiting
    rows = await _rows(database)
    assert (rows["ann"]["accounts"], rows["ann"]["balance"]) == (30, Decimal(30))


async def _project_some(projector: Projector) -> int:
    read = 0
    for _ in range(5):
        read += await projector.run_once()
    return read


async def test_a_changed_definition_rebuilds_the_view(
    database: Database, processor: CommandProcessor
) -> None:
    await _open(processor, "ann", "1")
    await _open(processor, "ann", "1")
    before = owners_view()
    await _project(Projector(view_service(before), before, database), 2)
    assert (await _rows(database))["ann"]["accounts"] == 2

    after = owners_view(extra=10)
    assert after.fingerprint != before.fingerprint
    await _project(Projector(view_service(after), after, database), 2)
    assert (await _rows(database))["ann"]["accounts"] == 20

    projector = Projector(view_service(after), after, database)
    await projector.rebuild()
    assert await _rows(database) == {}
    assert await projector.catch_up() == 2  # as `fluvius replay --view` does
    assert (await _rows(database))["ann"]["accounts"] == 20


async def test_verify_finds_a_row_that_is_not_the_fold(
    database: Database, processor: CommandProcessor
) -> None:
    view = owners_view()
    projector = Projector(view_service(view), view, database)
    await _open(processor, "ann", "3")
    await _open(processor, "bob", "4")
    await _project(projector, 2)
    assert await projector.differences() == []

    async with database.write.begin() as connection:
        await connection.execute(
            update(owners_table).where(owners_table.c.owner == "bob").values(accounts=7)
        )
    (difference,) = await projector.differences()
    assert difference.startswith("bob: stored")


async def test_with_tenancy_each_tenant_has_its_own_rows(
    database: Database, processor: CommandProcessor
) -> None:
    view = owners_view(tenancy=True)
    projector = Projector(view_service(view), view, database)
    for tenant, deposit in (("north", "1"), ("south", "2"), ("north", "3")):
        await processor.execute(
            TenantAccount,
            OpenAccount(owner="ann", initial_deposit=Decimal(deposit)),
            context=CommandContext(tenant=tenant),
        )
    await _project(projector, 3)
    async with database.write.connect() as connection:
        found = (await connection.execute(select(tenant_owners_table))).mappings().all()
    rows = {row["tenant_id"]: (row["accounts"], row["balance"]) for row in found}
    assert rows == {"north": (2, Decimal(4)), "south": (1, Decimal(2))}
    assert await projector.differences() == []


async def test_a_user_handler_replaces_the_rule_of_its_event(
    database: Database, processor: CommandProcessor
) -> None:
    def opened(row: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any] | None:
        if event["initial_deposit"] == "0":
            return None  # an empty account removes its owner's summary
        return {**row, "accounts": row["accounts"] + 100, "balance": event["initial_deposit"]}

    plain = owners_view()
    view = owners_view(handlers={"banking.account.account-opened": opened})
    assert view.fingerprint != plain.fingerprint  # a new handler rebuilds the view
    projector = Projector(view_service(view), view, database)
    await _open(processor, "ann", "2.5")
    await _open(processor, "bob", "1")
    await _open(processor, "bob", "0")
    await _project(projector, 3)
    rows = await _rows(database)
    assert set(rows) == {"ann"}
    assert (rows["ann"]["accounts"], rows["ann"]["balance"]) == (100, Decimal("2.5"))
    assert await projector.differences() == []


async def test_a_running_projector_folds_a_commit_without_waiting_for_its_poll(
    database: Database, processor: CommandProcessor
) -> None:
    view = owners_view()
    projector = Projector(view_service(view), view, database)
    stop = asyncio.Event()
    running = asyncio.create_task(projector.run(stop, 3600, commits=database.commits))
    try:
        async with asyncio.timeout(WAIT_S):
            # its first round is done: it rests for its poll
            while projector.heartbeat.due < time.monotonic() + 60:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await _open(processor, "ann", "3")
            while "ann" not in await _rows(database):  # noqa: ASYNC110 (a table to poll)
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running
    assert (await _rows(database))["ann"]["accounts"] == 1


async def test_a_row_of_every_column_type_is_written_and_read_back(
    database: Database, processor: CommandProcessor
) -> None:
    view = kinds_view()
    projector = Projector(view_service(view), view, database)
    await _open(processor, "ann", "2.5")
    last = await _open(processor, "ann", "1")
    await _open(processor, "bob", "4")
    await _project(projector, 3)
    async with database.write.connect() as connection:
        found = (await connection.execute(select(kinds_table))).mappings().all()
    rows = {row["owner"]: dict(row) for row in found}
    ann = rows["ann"]
    assert (ann["count"], ann["amount"], ann["account"]) == (2, Decimal("3.5"), last)
    assert (ann["note"], ann["ratio"], ann["flag"], ann["level"]) == (
        "a long note",
        0.25,
        True,
        "high",
    )
    assert ann["day"] == dt.date(2024, 3, 1)
    assert ann["at"].tzinfo is not None
    assert ann["extra"] == {"tags": ["a", "b"], "n": 1}
    assert rows["bob"]["amount"] == Decimal(4)
    assert await projector.differences() == []
