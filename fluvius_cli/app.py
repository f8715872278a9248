"""The authoring verbs: one per module in fluvius_cli.commands.

They join the runtime's `fluvius` command (fluvius.cli) through the `fluvius.commands` entry
point. Verb modules import their machinery (copier, alembic...) only when they run, so that
starting the CLI, and `fluvius check` above all, stays fast.
"""

from __future__ import annotations

import typer

from fluvius_cli.commands import add, migrate, new
from fluvius_cli.commands.build import build
from fluvius_cli.commands.check import check
from fluvius_cli.commands.generate import generate
from fluvius_cli.commands.graph import graph
from fluvius_cli.commands.schema import schema
from fluvius_cli.commands.upgrade import upgrade

app = typer.Typer(name="fluvius-cli")
app.command()(check)
app.command()(schema)
app.add_typer(new.app, name="new")
app.add_typer(add.app, name="add")
app.command()(generate)
app.command()(graph)
app.add_typer(migrate.app, name="migrate")
app.command()(upgrade)
app.command()(build)
