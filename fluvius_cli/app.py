"""The `fluvius` typer application: one verb per module in fluvius_cli.commands.

Verb modules import their machinery (copier, alembic, FastAPI...) only when they run, so that
starting the CLI, and `fluvius check` above all, stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fluvius_cli import __version__
from fluvius_cli.commands import add, migrate, new, policy, run, workers
from fluvius_cli.commands.asyncapi import asyncapi
from fluvius_cli.commands.check import check
from fluvius_cli.commands.generate import generate
from fluvius_cli.commands.graph import graph
from fluvius_cli.commands.schema import schema
from fluvius_cli.commands.state import replay, verify
from fluvius_cli.commands.token import token
from fluvius_cli.commands.upgrade import upgrade

app = typer.Typer(
    name="fluvius",
    help="Scaffold event-sourced FastAPI services from one YAML domain spec.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.command()(check)
app.command()(schema)
app.add_typer(new.app, name="new")
app.add_typer(add.app, name="add")
app.command()(generate)
app.command()(graph)
app.add_typer(migrate.app, name="migrate")
app.add_typer(run.app, name="run")
app.command()(token)
app.add_typer(policy.app, name="policy")
app.add_typer(workers.app, name="workers")
app.command()(asyncapi)
app.command()(replay)
app.command()(verify)
app.command()(upgrade)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"fluvius {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Scaffold event-sourced FastAPI services from one YAML domain spec."""


def main() -> None:
    """Entry point of the `fluvius` console script."""
    app()
