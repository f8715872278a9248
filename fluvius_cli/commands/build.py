"""`fluvius build`: the wheels the service's image installs, written into its build context."""

from __future__ import annotations

from pathlib import Path

import typer

from fluvius.cli.common import ProjectOption
from fluvius_cli.commands.common import project_root


def build(project: ProjectOption = Path()) -> None:
    """Write into wheels/ the service's wheel, the runtime's and their dependencies' (no index
    needed by `docker build` then)."""
    from rich.markup import escape

    from fluvius.cli.console import err, out
    from fluvius_cli.wheels import WHEELS, BuildFailed, build_wheels

    root = project_root(project)
    try:
        with err.status("Building the wheels…"):
            wheels = build_wheels(root)
    except BuildFailed as error:
        err.print(f"[red]✗[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    size = sum(wheel.stat().st_size for wheel in wheels) / 1e6
    out.print(f"[green]✓[/] {len(wheels)} wheels ({size:.1f} MB) in {WHEELS}/")
    out.print(f"  then: docker build -t {root.name} {root}")
