"""`fluvius generate`: re-render the project's code from its spec."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluvius_cli.commands.common import ProjectOption, project_root
from fluvius_cli.spec import SpecError

if TYPE_CHECKING:
    from fluvius_cli.generate.project import Generation


def generate(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when the tree differs.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write nothing; list what each file would get.")
    ] = False,
    project: ProjectOption = Path(),
) -> None:
    """Re-render the code from fluvius.yaml. Files edited by hand are never overwritten."""
    from fluvius.cli.console import err
    from fluvius_cli.generate.project import generate as run_generate
    from fluvius_cli.reporting import show_changes, show_spec_errors

    root = project_root(project)
    try:
        with err.status("Generating…"):
            generation = run_generate(root, write=not (check or dry_run))
    except SpecError as error:
        show_spec_errors(error)
        raise typer.Exit(1) from None
    show_changes(generation.changes, every_file=dry_run)
    if check and generation.differs:
        _explain_difference(generation)
        raise typer.Exit(1)


def _explain_difference(generation: Generation) -> None:
    """Say what makes the tree differ, and what brings it back in line."""
    from fluvius.cli.console import err
    from fluvius_cli.generate.sync import Action

    edited = [c.path for c in generation.changes if c.action is Action.SKIPPED_EDITED]
    if len(edited) < sum(c.action.changes_tree for c in generation.changes):
        err.print("[red]✗[/] the code differs from fluvius.yaml: run `fluvius generate`")
    if edited:
        err.print(
            f"[red]✗[/] generated files edited by hand: {', '.join(edited)}. Generation never "
            "overwrites them: move the change into a user module (or a spec change), then "
            "delete the file so that `fluvius generate` writes it again"
        )
