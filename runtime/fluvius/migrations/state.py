"""Where a database stands among the project's revisions."""

from __future__ import annotations

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from fluvius.migrations.config import alembic_config, on_database
from fluvius.migrations.environment import CONNECTION
from fluvius.project import Project


class SeveralHeads(RuntimeError):
    """Revisions were added on two branches: the history forks."""

    def __init__(self, heads: list[str]) -> None:
        super().__init__(
            f"the migrations have {len(heads)} heads ({', '.join(heads)}): revisions were added "
            "on two branches. Run `fluvius migrate merge` to join them, then `fluvius migrate`."
        )
        self.heads = heads


def script_directory(project: Project) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(project))


def heads(project: Project) -> list[str]:
    """The newest revision of each branch of the migrations folder."""
    return list(script_directory(project).get_heads())


def single_head(project: Project) -> str | None:
    """The head revision; SeveralHeads when the history forks; None without revisions."""
    found = heads(project)
    if len(found) > 1:
        raise SeveralHeads(found)
    return found[0] if found else None


def current_revisions(project: Project, url: str) -> tuple[str, ...]:
    """The revisions the database at `url` is at."""

    def read(config: Config) -> tuple[str, ...]:
        context = MigrationContext.configure(config.attributes[CONNECTION])
        return tuple(context.get_current_heads())

    return on_database(project, url, read)


def pending_revisions(project: Project, url: str) -> list[str]:
    """The revisions the database at `url` lacks, on every branch, oldest first."""
    script = script_directory(project)
    current = current_revisions(project, url)
    applied = {revision.revision for revision in script.iterate_revisions(current, "base")}
    every = reversed(list(script.walk_revisions()))
    return [revision.revision for revision in every if revision.revision not in applied]
