"""What the verbs that work on a project share: the --project option and finding the project."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fluvius.project import Project

ProjectOption = Annotated[
    Path,
    typer.Option("--project", "-p", help="The project folder, or any folder inside it."),
]


def open_project(start: Path) -> Project:
    """The project at or above `start`; exit 1 saying so when there is none."""
    from rich.markup import escape

    from fluvius.cli.console import err
    from fluvius.project import NotAProject, Project

    try:
        return Project.find(start)
    except NotAProject as error:
        err.print(f"[red]✗[/] {escape(str(error))}")
        raise typer.Exit(1) from None
