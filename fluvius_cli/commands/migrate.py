"""`fluvius migrate`: database revisions that follow the spec, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluvius_cli.commands.common import ProjectOption, open_project

app = typer.Typer(help="Migrate the database to the spec: `fluvius migrate`, then subcommands.")


@app.callback(invoke_without_command=True)
def migrate(
    context: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when the spec has unmigrated changes.")
    ] = False,
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL instead of running it.")
    ] = False,
    project: ProjectOption = Path(),
) -> None:
    """Write a revision for the spec's changes (if any), then bring the database to it."""
    if context.invoked_subcommand is None:
        from fluvius_cli.migrations import verbs

        verbs.migrate(open_project(project), check=check, sql=sql)


@app.command()
def up(project: ProjectOption = Path()) -> None:
    """Apply the revisions the database lacks, without writing any (for deployments)."""
    from fluvius_cli.migrations import verbs

    verbs.upgrade(open_project(project), sql=False)


@app.command()
def status(project: ProjectOption = Path()) -> None:
    """Show the database's revision, the head, and the revisions still to apply."""
    from fluvius_cli.migrations import verbs

    verbs.status(open_project(project))


@app.command()
def down(
    revision: Annotated[str, typer.Argument(help="The revision to go back to.")] = "-1",
    project: ProjectOption = Path(),
) -> None:
    """Undo revisions, back to REVISION (by default, the last one)."""
    from fluvius_cli.migrations import verbs

    verbs.down(open_project(project), revision)


@app.command()
def merge(project: ProjectOption = Path()) -> None:
    """Join the heads left by revisions written on two branches."""
    from fluvius_cli.migrations import verbs

    verbs.merge(open_project(project))
