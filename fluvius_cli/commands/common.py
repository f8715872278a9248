"""What the authoring verbs share: opening the project with its spec checked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fluvius.cli.common import ProjectOption

if TYPE_CHECKING:
    from fluvius_cli.project import Project

__all__ = ["ProjectOption", "open_project", "project_root"]


def open_project(start: Path) -> Project:
    """The project at or above `start`, its spec checked; exit 1 with the reasons otherwise."""
    from fluvius_cli.project import Project
    from fluvius_cli.reporting import show_spec_errors
    from fluvius_cli.spec import SpecError

    with _found():
        try:
            return Project.find(start)
        except SpecError as error:
            show_spec_errors(error)
            raise typer.Exit(1) from None


def project_root(start: Path) -> Path:
    """The folder of the project at or above `start`, whatever state its spec is in."""
    from fluvius_cli.project import find_root

    with _found():
        return find_root(start)


@contextmanager
def _found() -> Iterator[None]:
    from fluvius.cli.console import err
    from fluvius_cli.project import NotAProject

    try:
        yield
    except NotAProject as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
