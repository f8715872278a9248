"""`fluvius upgrade`: the project's skeleton and code, brought to this fluvius version."""

from __future__ import annotations

from pathlib import Path

import typer

from fluvius_cli.commands.common import ProjectOption, open_project


def upgrade(
    project: ProjectOption = Path(),
) -> None:
    """`copier update` of the skeleton with the recorded answers, then `fluvius generate`.

    The project must be a clean git work tree: review the changes with `git diff`.
    """
    from fluvius.cli.console import err, out
    from fluvius_cli.generate.project import generate
    from fluvius_cli.generate.skeleton import SkeletonError, update_skeleton
    from fluvius_cli.reporting import show_changes

    found = open_project(project)
    try:
        update_skeleton(found.root)
    except SkeletonError as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    out.print("[green]✓[/] skeleton updated (copier update); regenerating the code")
    show_changes(generate(found.root).changes, every_file=False)
