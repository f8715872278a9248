"""`fluvius migrate up|status|down`: the revisions a project ships, run on its database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluvius.cli.common import ProjectOption, open_project


def up(project: ProjectOption = Path()) -> None:
    """Apply the revisions the database lacks, without writing any (for deployments)."""
    from fluvius.cli import migrations as verbs

    verbs.upgrade(open_project(project), sql=False)


def status(project: ProjectOption = Path()) -> None:
    """Show the database's revision, the head, and the revisions still to apply."""
    from fluvius.cli import migrations as verbs

    verbs.status(open_project(project))


def down(
    revision: Annotated[str, typer.Argument(help="The revision to go back to.")] = "-1",
    project: ProjectOption = Path(),
) -> None:
    """Undo revisions, back to REVISION (by default, the last one)."""
    from fluvius.cli import migrations as verbs

    verbs.down(open_project(project), revision)


def group(description: str = "Migrate the database: up, status, down.") -> typer.Typer:
    """A `migrate` group holding up, status and down."""
    app = typer.Typer(help=description)
    app.command()(up)
    app.command()(status)
    app.command()(down)
    return app
