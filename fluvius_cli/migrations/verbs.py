"""The work behind the `fluvius migrate` verbs that write revisions (the others: the runtime's)."""

from __future__ import annotations

from pathlib import Path

import typer
from alembic import command

from fluvius.cli.console import err, out
from fluvius.cli.migrations import fail, failures_in_one_line, upgrade
from fluvius.migrations.config import alembic_config
from fluvius.migrations.failures import MigrationFailed
from fluvius.migrations.state import SeveralHeads, heads
from fluvius_cli.generate.project import generate
from fluvius_cli.migrations.revise import PlannedRevision, plan_revision, tidy
from fluvius_cli.project import Project
from fluvius_cli.reporting import show_changes, show_spec_errors
from fluvius_cli.spec import SpecError


@failures_in_one_line
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
        fail(failure, "on a scratch database at the head of the migrations; yours is untouched")
