"""The work behind the `fluvius migrate` verbs."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, ParamSpec, TypeVar

import typer
from alembic import command
from alembic.config import Config
from rich.markup import escape

from fluvius.data import Database
from fluvius.data.projections import stale
from fluvius_cli.console import err, out
from fluvius_cli.generate.project import generate
from fluvius_cli.migrations.config import alembic_config, on_database, safe_url
from fluvius_cli.migrations.failures import MigrationFailed
from fluvius_cli.migrations.revise import PlannedRevision, plan_revision, tidy
from fluvius_cli.migrations.state import (
    SeveralHeads,
    current_revisions,
    heads,
    pending_revisions,
)
from fluvius_cli.project import Project
from fluvius_cli.reporting import show_changes, show_spec_errors
from fluvius_cli.spec import SpecError

P = ParamSpec("P")
R = TypeVar("R")


def _failures_in_one_line(verb: Callable[P, R]) -> Callable[P, R]:
    """Say a failure on the database in one line, and exit 1."""

    @functools.wraps(verb)
    def reported(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return verb(*args, **kwargs)
        except MigrationFailed as failure:
            _fail(failure)

    return reported


def _fail(failure: MigrationFailed, outcome: str | None = None) -> NoReturn:
    err.print(f"[red]✗[/] {escape(str(failure))}{f'; {outcome}' if outcome else ''}")
    raise typer.Exit(1) from None


@_failures_in_one_line
def migrate(found: Project, *, check: bool, sql: bool) -> None:
    """Generate, write a revision for the spec's changes (if any), then upgrade the database.

    With `check` or `sql` nothing is written: the code and the revisions must already follow
    the spec (`check` says whether they do; `sql` prints the upgrade instead of running it).
    """
    _follow_spec(found, write=not (check or sql))
    planned = _plan(found, write=not (check or sql))
    if planned is not None and planned.path is None:
        err.print(f"[red]✗[/] unmigrated changes: {', '.join(planned.changes)}")
        if sql:
            err.print("  write their revision first: `fluvius migrate` on a development database")
        raise typer.Exit(1)
    if check:
        out.print("[green]✓[/] the migrations match the spec")
        return
    if planned is not None and planned.path is not None:
        out.print(f"[green]wrote[/] {planned.path.relative_to(found.root)}")
        for change in planned.changes:
            out.print(f"  {change}")
    upgrade(found, sql=sql)


def _follow_spec(found: Project, *, write: bool) -> None:
    """Bring the generated code up to the spec, which the revision is computed from."""
    generation = generate(found.root, write=write)
    if not generation.differs:
        return
    if not write:
        err.print(
            "[red]✗[/] the generated code is older than fluvius.yaml: "
            "run `fluvius generate` (or `fluvius migrate`, which generates first)"
        )
        raise typer.Exit(1)
    show_changes(generation.changes, every_file=False)
    found.forget_modules()


@_failures_in_one_line
def status(found: Project) -> None:
    """Print the database's revision, the head, and the revisions still to apply."""
    url = found.settings().database_url
    current = current_revisions(found, url)
    out.print(f"database: {safe_url(url)}")
    out.print(f"current:  {', '.join(current) or '(none)'}")
    out.print(f"head:     {', '.join(heads(found)) or '(no revisions)'}")
    pending = pending_revisions(found, url)
    out.print(f"pending:  {', '.join(pending) or 'none'}")


@_failures_in_one_line
def down(found: Project, revision: str) -> None:
    """Undo revisions back to `revision`."""
    url = found.settings().database_url
    _run_revisions(found, url, lambda config: command.downgrade(config, revision))
    out.print(f"[green]✓[/] the database is back at {_named(current_revisions(found, url))}")


def merge(found: Project) -> None:
    """Join the heads left by revisions written on two branches."""
    branches = heads(found)
    if len(branches) < 2:
        out.print("nothing to merge: the migrations have one head")
        return
    merged = command.merge(
        alembic_config(found), branches, message=f"merge {' and '.join(branches)}"
    )
    if merged is not None:
        tidy(Path(merged.path), found.package)
    out.print(f"[green]✓[/] merged {', '.join(branches)}; now run `fluvius migrate`")


@_failures_in_one_line
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
        _fail(failure, f"the database stays at {_named(current_revisions(found, url))}")


def _named(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "base (no revisions)"


def _report_stale_projections(found: Project, url: str) -> None:
    """Say which state tables a changed projection needs rebuilt."""
    found.forget_modules()
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


def _plan(found: Project, *, write: bool) -> PlannedRevision | None:
    try:
        return plan_revision(found, write=write)
    except SpecError as error:
        show_spec_errors(error)
        raise typer.Exit(1) from None
    except SeveralHeads as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    except MigrationFailed as failure:
        _fail(failure, "on a scratch database at the head of the migrations; yours is untouched")
