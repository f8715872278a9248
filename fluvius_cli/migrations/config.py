"""Alembic configured for a project, and run on a connection to a database."""

from __future__ import annotations

import asyncio
from argparse import Namespace
from collections.abc import Callable
from typing import TypeVar

from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from fluvius.data.driver import async_url, ensure_sqlite_folder
from fluvius.migrations.environment import CONNECTION
from fluvius_cli.project import Project

T = TypeVar("T")


def alembic_config(project: Project, url: str | None = None) -> Config:
    """The project's alembic configuration, aimed at `url` when given; alembic's own progress
    messages are silenced (the verbs say what happened)."""
    config = Config(str(project.root / "alembic.ini"), cmd_opts=Namespace(quiet=True))
    config.set_main_option("script_location", str(project.root / "migrations"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def on_database(project: Project, url: str, action: Callable[[Config], T]) -> T:
    """Run `action` with the project's alembic configuration bound to a connection to `url`.

    The project's modules are imported afresh, so that alembic sees the code as it is now.
    """
    project.forget_modules()
    project.importable()
    ensure_sqlite_folder(url)

    async def run() -> T:
        engine = create_async_engine(async_url(url))
        try:
            async with engine.begin() as connection:

                def bound(sync_connection: Connection) -> T:
                    config = alembic_config(project, url)
                    config.attributes[CONNECTION] = sync_connection
                    return action(config)

                return await connection.run_sync(bound)
        finally:
            await engine.dispose()

    return asyncio.run(run())
