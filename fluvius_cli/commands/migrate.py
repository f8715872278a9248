"""`fluvius migrate`: database revisions that follow the spec, on SQLite and PostgreSQL.

The runtime's `migrate` group (up, status, down) with revision writing added: the group's own
`fluvius migrate`, and `merge`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluvius.cli import migrate as runtime
from fluvius.cli.common import ProjectOption
from fluvius_cli.commands.common import open_project

app = runtime.group("Migrate the database to the spec: `fluvius migrate`, then subcommands.")


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
def merge(project: ProjectOption = Path()) -> None:
    """Join the heads left by revisions written on two branches."""
    from fluvius_cli.migrations import verbs

    verbs.merge(open_project(project))
