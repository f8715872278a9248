"""A migration that failed on the database, said in one located line instead of a traceback."""

from __future__ import annotations

import re
import traceback
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError

from fluvius.project import Project

STATEMENT_LENGTH = 160


class MigrationFailed(Exception):
    """A database error (or one raised inside a revision), in one line located at the revision's
    file and line when a revision was running (`revision` is then its id), else at the database."""

    def __init__(self, location: str, message: str, revision: str | None) -> None:
        super().__init__(f"{location}: {message}")
        self.revision = revision


def located(error: BaseException, project: Project, database: str) -> MigrationFailed | None:
    """`error` said in one line, or None when it is neither the database's nor a revision's
    (a fault of fluvius itself, which keeps its traceback). `database` names the database."""
    frame = _revision_frame(error, project)
    if frame is None:
        if not isinstance(error, DBAPIError | OSError | CommandError):
            return None
        return MigrationFailed(database, _message(error), None)
    path, line, revision = frame
    where = f"{path.relative_to(project.root.resolve())}:{line}: revision {revision} failed"
    return MigrationFailed(where, _message(error), revision)


def _revision_frame(error: BaseException, project: Project) -> tuple[Path, int, str] | None:
    """The innermost line of a revision file that the error went through, and its revision."""
    versions = (project.root / "migrations" / "versions").resolve()
    found = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        path = Path(frame.f_code.co_filename).resolve()
        if path.parent == versions:
            found = (path, line, str(frame.f_globals.get("revision", "?")))
    return found


def _message(error: BaseException) -> str:
    """The database's message, then the statement it refused; or the error's own message."""
    if isinstance(error, DBAPIError):
        message = _first_line(error.orig or error)
        if not error.statement:
            return message
        statement = re.sub(r"\s+", " ", error.statement).strip()
        if len(statement) > STATEMENT_LENGTH:
            statement = statement[: STATEMENT_LENGTH - 1] + "…"
        return f"{message}, in: {statement}"
    if isinstance(error, OSError | CommandError):
        return _first_line(error)
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
