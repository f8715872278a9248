"""`fluvius graph`: draw the event model of a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluvius_cli.commands.check import DEFAULT_SPEC
from fluvius_cli.graph import FORMATS


def graph(
    file: Annotated[Path, typer.Argument(help="The spec to draw.")] = DEFAULT_SPEC,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help=f"Output format: {', '.join(tuple(FORMATS))} (svg needs Graphviz's dot).",
            case_sensitive=False,
        ),
    ] = "mermaid",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Draw the spec's event model: per domain, each aggregate's commands, the events they
    emit and the workers each event triggers."""
    from fluvius.cli.console import err
    from fluvius_cli.generate.view import ProjectView
    from fluvius_cli.graph import GraphvizMissing, event_model, render
    from fluvius_cli.reporting import show_spec_errors
    from fluvius_cli.spec import SpecError, load_spec

    output_format = output_format.lower()
    if output_format not in tuple(FORMATS):
        raise typer.BadParameter(
            f"choose one of {', '.join(tuple(FORMATS))}", param_hint="--format"
        )
    try:
        spec = load_spec(file)
    except SpecError as error:
        show_spec_errors(error)
        raise typer.Exit(1) from None
    try:
        drawing = render(event_model(ProjectView(spec)), output_format)
    except GraphvizMissing as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    if output is None:
        typer.echo(drawing, nl=False)
    else:
        output.write_text(drawing)
        err.print(f"[green]✓[/] {output}: the event model of {file}, as {output_format}")
