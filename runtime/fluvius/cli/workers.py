"""`fluvius workers`: each worker's progress and failures; `fluvius workers retry` a dead job."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluvius.cli.common import ProjectOption, open_project

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.application.views import View
    from fluvius.project import Project
    from fluvius.service import Service
    from fluvius.streams import Stream
    from fluvius.worker.jobs import BrokerErrors, Counts

app = typer.Typer(help="Inspect and retry the service's workers.")


@app.callback(invoke_without_command=True)
def show(context: typer.Context, project: ProjectOption = Path()) -> None:
    """Each worker's, stream's and view's checkpoint, lag, and jobs by status; then the streams'
    broker errors and the dead letters."""
    if context.invoked_subcommand is not None:
        return
    from fluvius.cli.console import out, show_table

    found = open_project(project)
    rows, letters, errors = asyncio.run(_status(found))
    columns = ("worker", "trigger", "checkpoint", "lag", "waiting", "done", "retrying", "dead")
    show_table(columns, [[str(value) for value in row] for row in rows])
    if errors:
        out.print("\n[bold]broker errors[/] (since each stream's relay started)")
        for worker, error in sorted(errors.items()):
            out.print(f"  {worker}  {_broker_errors(error)}")
    if letters:
        out.print("\n[bold]dead letters[/] (`fluvius workers retry ID` queues one again)")
        for letter in letters:
            first_line = letter["error"].strip().splitlines()[-1]
            out.print(f"  {letter['id']}  {letter['worker']}  {letter['job_key']}  {first_line}")


@app.command()
def retry(
    letter: Annotated[str, typer.Argument(help="The id of a dead letter.")],
    project: ProjectOption = Path(),
) -> None:
    """Queue a dead job again, with its retries afresh."""
    from fluvius.cli.console import err, out
    from fluvius.worker.jobs import NotRequeueable

    try:
        letter_id = uuid.UUID(letter)
    except ValueError:
        raise typer.BadParameter("a dead letter id is a UUID", param_hint="LETTER") from None
    try:
        job = asyncio.run(_requeue(open_project(project), letter_id))
    except NotRequeueable as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    out.print(f"[green]✓[/] {job} is queued again")


def _broker_errors(errors: BrokerErrors) -> str:
    """A stream's broker errors on one line: how many since when, the last one and when."""
    last = errors.last.strip().splitlines()[-1] if errors.last.strip() else "?"
    return f"{errors.count} since {_moment(errors.since)}, the last at {_moment(errors.at)}: {last}"


def _moment(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


async def _status(
    found: Project,
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]], dict[str, BrokerErrors]]:
    """The table's rows, the dead letters, and the streams' broker errors by worker."""
    from sqlalchemy import BigInteger, func, literal, select, tuple_

    from fluvius.application.workers import EventWorker
    from fluvius.data import Checkpoints, Database
    from fluvius.worker.jobs import Counts, JobStore
    from fluvius.worker.relay import relay_name

    service = found.service()
    database = Database(found.settings().database_url)
    store = JobStore(service.tables)
    checkpoints = Checkpoints(service.tables.checkpoints)
    rows: list[tuple[Any, ...]] = []
    try:
        async with database.read.connect() as connection:
            counts = await store.counts(connection)
            letters = await store.dead(connection)
            errors = await store.broker_errors(connection)
            for domain, worker in service.workers():
                jobs = counts.get(worker.name, Counts())
                outcomes = (jobs.waiting, jobs.done, jobs.retrying, jobs.dead)
                if not isinstance(worker, EventWorker):
                    rows.append((worker.name, f"cron {worker.cron}", "-", "-", *outcomes))
                    continue
                at = await checkpoints.load(connection, relay_name(domain.name))
                events = domain.log.events
                later = tuple_(events.c.transaction_id, events.c.position) > tuple_(
                    literal(at.transaction_id, BigInteger), literal(at.position, BigInteger)
                )
                lag = (
                    await connection.execute(
                        select(func.count()).where(
                            later,
                            events.c.aggregate == worker.aggregate.name,
                            events.c.name == worker.event.event_name,
                        )
                    )
                ).scalar_one()
                rows.append((worker.name, worker.event.event_name, at.position, lag, *outcomes))
            for stream in service.streams:
                rows.append(await _stream_row(connection, found, stream, counts))
            for view in service.views():
                rows.append(await _view_row(connection, found, view))
    finally:
        await database.dispose()
    return rows, letters, errors


async def _stream_row(
    connection: AsyncConnection, found: Project, stream: Stream, counts: dict[str, Counts]
) -> tuple[Any, ...]:
    """A stream's row: where it goes, its checkpoint in each domain, the events it has yet to
    publish, and its dead letters (webhooks)."""
    from urllib.parse import urlsplit

    from fluvius.streams.relay import checkpoint_name, stream_url
    from fluvius.worker.jobs import Counts

    service = found.service()
    url = stream_url(found.settings(), stream)
    trigger = (
        f"stream → {urlsplit(url).scheme}" if url else f"stream, off (FLUVIUS_{stream.setting})"
    )
    positions, lag = await _positions(
        connection, service, stream.events, lambda name: checkpoint_name(stream.name, name)
    )
    jobs = counts.get(stream.worker, Counts())
    return (
        stream.worker,
        trigger,
        positions,
        lag,
        jobs.waiting,
        jobs.done,
        jobs.retrying,
        jobs.dead,
    )


async def _view_row(connection: AsyncConnection, found: Project, view: View) -> tuple[Any, ...]:
    """A view's row: its projector's checkpoint in each domain, and the events it has yet to
    fold (a view has no jobs)."""
    positions, lag = await _positions(
        connection, found.service(), list(view.rules), view.checkpoint
    )
    return (view.worker, "view", positions, lag, "-", "-", "-", "-")


async def _positions(
    connection: AsyncConnection,
    service: Service,
    events: Sequence[str],
    checkpoint: Callable[[str], str],
) -> tuple[str, int]:
    """Where a reader of `events` (`domain.aggregate.event` names) is in each domain's log,
    as the positions of its checkpoints (named by `checkpoint`), and how many of those events
    lie past them."""
    from sqlalchemy import BigInteger, and_, func, literal, or_, select, tuple_

    from fluvius.data import Checkpoints

    checkpoints = Checkpoints(service.tables.checkpoints)
    positions, lag = [], 0
    for name in dict.fromkeys(event.partition(".")[0] for event in events):
        domain = service.domain(name)
        at = await checkpoints.load(connection, checkpoint(name))
        positions.append(str(at.position))
        table = domain.log.events
        read = [e.split(".")[1:] for e in events if e.startswith(f"{name}.")]
        lag += (
            await connection.execute(
                select(func.count()).where(
                    tuple_(table.c.transaction_id, table.c.position)
                    > tuple_(
                        literal(at.transaction_id, BigInteger), literal(at.position, BigInteger)
                    ),
                    or_(*(and_(table.c.aggregate == a, table.c.name == e) for a, e in read)),
                )
            )
        ).scalar_one()
    return ",".join(positions), lag


async def _requeue(found: Project, letter_id: uuid.UUID) -> str:
    from fluvius.application.streams import STREAM_WORKER_PREFIX
    from fluvius.data import Database
    from fluvius.worker.jobs import JobStore
    from fluvius.worker.queues import ArqQueue

    service = found.service()
    settings = found.settings()
    database = Database(settings.database_url)
    try:
        async with database.write.begin() as connection:
            job = await JobStore(service.tables).requeue(connection, letter_id)
        if settings.redis_url is not None and not job.worker.startswith(STREAM_WORKER_PREFIX):
            from arq import create_pool
            from arq.connections import RedisSettings

            redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
            try:
                await ArqQueue(database, service.tables, redis).requeue(job)
            finally:
                await redis.aclose()
    finally:
        await database.dispose()
    return job.id
