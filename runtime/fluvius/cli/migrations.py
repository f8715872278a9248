"""The work behind `fluvius migrate up`, `status` and `down`: revisions run on a database."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer
from alembic import command
from alembic.config import Config
from rich.markup import escape

from fluvius.cli.console import err, out
from fluvius.data import Database
from fluvius.data.projections import stale
from fluvius.migrations.config import alembic_config, on_database, safe_url
from fluvius.migrations.failures import MigrationFailed
from fluvius.migrations.state import (
    current_revisions,
    heads,
    pending_revisions,
)
from fluvius.project import Project

P = ParamSpec("P")
R = TypeVar("R")


def failures_in_one_line(verb: Callable[P, R]) -> Callable[P, R]:
    """Say a failure on the database in one line, and exit 1."""

    @functools.wraps(verb)
    def reported(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return verb(*args, **kwargs)
        except MigrationFailed as failure:
            fail(failure)

    return reported


def fail(failure: MigrationFailed, outcome: str | None = None) -> NoReturn:
    """Say the failure, and what became of the database, in one line; exit 1."""
    err.print(f"[red]✗[/] {escape(str(failure))}{f'; {outcome}' if outcome else ''}")
    raise typer.Exit(1) from None


@failures_in_one_line
def status(found: Project) -> None:
    """Print the database's revision, the head, and the revisions still to apply."""
    url = found.settings().database_url
    current = current_revisions(found, url)
    out.print(f"database: {safe_url(url)}")
    out.print(f"current:  {', '.join(current) or '(none)'}")
    out.print(f"head:     {', '.join(heads(found)) or '(no revisions)'}")
    pending = pending_revisions(found, url)
    out.print(f"pending:  {', '.join(pending) or 'none'}")


@failures_in_one_line
def down(found: Project, revision: str) -> None:
    """Undo revisions back to `revision`."""
    url = found.settings().database_url
    _run_revisions(found, url, lambda config: command.downgrade(config, revision))
    out.print(f"[green]✓[/] the database is back at {_named(current_revisions(found, url))}")


@failures_in_one_line
def upgrade(found: Project, *, sql: bool) -> None:
    """Apply the pending revisions (or print their SQL)."""
    url = found.settings().database_url
    pending = pending_revisions(found, url)
    if sql:
        current = current_revisions(found, url)
        start = current[0] if current else "base"
        command.upgrade(alembic_config(found, url), f"{start}:head", sql=True)
        return
    if not pending:
        out.print(f"[green]✓[/] the database is up to date ({safe_url(url)})")
        _report_stale_projections(found, url)
        return
    _run_revisions(found, url, lambda config: command.upgrade(config, "head"))
    out.print(f"[green]✓[/] applied {len(pending)} revision(s) to {safe_url(url)}")
    _report_stale_projections(found, url)


def _run_revisions(found: Project, url: str, action: Callable[[Config], None]) -> None:
    """Run revisions on the database, each in its own transaction: when one fails, say which
    and where, and that the database stays at the revision before it."""
    try:
        on_database(found, url, action)
    except MigrationFailed as failure:
        if failure.revision is None:
            raise
        fail(failure, f"the database stays at {_named(current_revisions(found, url))}")


def _named(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "base (no revisions)"


def _report_stale_projections(found: Project, url: str) -> None:
    """Say which state tables a changed projection needs rebuilt."""
    service = found.service()

    async def check() -> list[str]:
        database = Database(url)
        try:
            async with database.write.begin() as connection:
                return await stale(connection, service.tables.projections, service.aggregates())
        finally:
            await database.dispose()

    for name in asyncio.run(check()):
        out.print(
            f"[yellow]![/] the projection of {name} changed: its state must be replayed; "
            f"run `fluvius replay --aggregate {name}`"
        )
