"""Alembic configured for a project, and run on a connection to a database."""

from __future__ import annotations

import asyncio
from argparse import Namespace
from collections.abc import Callable
from typing import TypeVar

from alembic.config import Config
from sqlalchemy.engine import Connection, make_url

from fluvius.migrations.environment import CONNECTION, migration_connection
from fluvius.migrations.failures import located
from fluvius.project import Project

T = TypeVar("T")


def alembic_config(project: Project, url: str | None = None) -> Config:
    """The project's alembic configuration, aimed at `url` when given; alembic's own progress
    messages are silenced (the verbs say what happened)."""
    config = Config(str(project.root / "alembic.ini"), cmd_opts=Namespace(quiet=True))
    config.set_main_option("script_location", str(project.root / "migrations"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def safe_url(url: str) -> str:
    """`url` with its password hidden, to be shown."""
    return make_url(url).render_as_string(hide_password=True)


def on_database(project: Project, url: str, action: Callable[[Config], T]) -> T:
    """Run `action` with the project's alembic configuration bound to a connection to `url`.

    The project's modules are imported afresh, so that alembic sees the code as it is now.
    A database error, or an error inside a revision, is raised as MigrationFailed.
    """
    project.forget_modules()
    project.importable()

    def bound(sync_connection: Connection) -> T:
        config = alembic_config(project, url)
        config.attributes[CONNECTION] = sync_connection
        return action(config)

    async def run() -> T:
        async with migration_connection(url) as connection:
            return await connection.run_sync(bound)

    try:
        return asyncio.run(run())
    except Exception as error:
        failure = located(error, project, safe_url(url))
        if failure is None:
            raise
        raise failure from error
