"""`fluvius run`: serve the project's API with uvicorn (and its workers)."""

from __future__ import annotations

import logging.config
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from fluvius.cli.common import ProjectOption, open_project

app = typer.Typer(help="Serve the project: the API (default) or a worker process.")


def log_config(package: str) -> dict[str, Any]:
    """JSON lines on stderr from fluvius, uvicorn, arq and the project's own loggers."""
    to_stderr = {"handlers": ["stderr"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "fluvius.fastapi.middleware.JsonLogFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {
            "fluvius": to_stderr,
            "uvicorn.error": to_stderr,
            "arq": to_stderr,
            package: to_stderr,
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


@app.callback(invoke_without_command=True)
def serve(
    context: typer.Context,
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    reload: Annotated[bool, typer.Option(help="Restart when the code changes.")] = False,
    workers: Annotated[int, typer.Option(help="Processes serving the API.", min=1)] = 1,
    project: ProjectOption = Path(),
) -> None:
    """Serve the API on SQLite by default, PostgreSQL when FLUVIUS_DATABASE_URL says so."""
    if context.invoked_subcommand is not None:
        return
    import uvicorn
    from rich.markup import escape

    from fluvius.cli.console import err
    from fluvius.cli.ports import PortTaken, ensure_free
    from fluvius.cli.serving import PACKAGE_VARIABLE
    from fluvius.fastapi.live.protocol import MAX_MESSAGE_BYTES
    from fluvius.migrations.failures import MigrationFailed
    from fluvius.migrations.state import pending_revisions
    from fluvius.observability.processes import shared_metrics
    from fluvius.settings import ROOT_VARIABLE, SettingsError

    found = open_project(project)
    try:
        settings = found.settings()
        settings.require_authentication()
    except SettingsError as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    try:
        pending = pending_revisions(found, settings.database_url)
    except MigrationFailed as failure:
        err.print(f"[red]✗[/] {escape(str(failure))}")
        raise typer.Exit(1) from None
    if pending:
        err.print(
            f"[red]✗[/] the database is {len(pending)} migration(s) behind "
            f"({', '.join(pending)}): run `fluvius migrate` first"
        )
        raise typer.Exit(1)
    try:
        ensure_free(host, port)
    except PortTaken as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    os.environ[ROOT_VARIABLE] = str(found.root)
    os.environ[PACKAGE_VARIABLE] = found.package
    with shared_metrics(workers if settings.metrics else 1):
        uvicorn.run(
            "fluvius.cli.serving:create_app",
            factory=True,
            host=host,
            port=port,
            reload=reload,
            reload_dirs=[str(found.root)] if reload else None,
            workers=workers,
            app_dir=str(found.root),
            log_config=log_config(found.package),
            ws_max_size=MAX_MESSAGE_BYTES,
            # /live sends each event to many connections, each with a compressor of its own:
            # deflating small messages once per subscriber costs more than it saves
            ws_per_message_deflate=False,
        )


@app.command()
def worker(
    project: ProjectOption = Path(),
) -> None:
    """An arq worker process (with its relay), on FLUVIUS_REDIS_URL; run as many as needed."""
    from arq.worker import run_worker

    from fluvius.cli.console import err
    from fluvius.settings import ROOT_VARIABLE
    from fluvius.worker.arq_app import worker_settings

    found = open_project(project)
    settings = found.settings()
    if settings.redis_url is None:
        err.print(
            "[red]✗[/] set FLUVIUS_REDIS_URL to run arq workers; "
            "without Redis, `fluvius run` runs the workers in-process"
        )
        raise typer.Exit(1)
    os.environ[ROOT_VARIABLE] = str(found.root)
    logging.config.dictConfig(log_config(found.package))
    run_worker(worker_settings(found.service(), settings))
