"""Writing a revision: autogenerate against the scripts' head, with fluvius's rules on top.

The comparison is made against a scratch SQLite database brought to the head of the
migrations folder, so a revision holds exactly the change since the last revision, whatever
state the developer's own database is in.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.operations.ops import MigrationScript
from ruff.__main__ import find_ruff_bin

from fluvius.migrations.config import on_database
from fluvius.migrations.environment import REWRITE
from fluvius.migrations.state import single_head
from fluvius_cli.generate.formatting import format_python
from fluvius_cli.migrations.rules import SchemaRules
from fluvius_cli.project import SPEC_FILE, Project
from fluvius_cli.spec.document import read_document

MESSAGE_LENGTH = 72
REMOVE_UNUSED_IMPORTS = "check --isolated --select F401 --fix --exit-zero --quiet".split()


@dataclass(frozen=True)
class PlannedRevision:
    """The schema change since the last revision, in words; `path` once written."""

    message: str
    changes: tuple[str, ...]
    path: Path | None = None


def plan_revision(project: Project, *, write: bool) -> PlannedRevision | None:
    """The revision the spec needs (None when the schema is up to date); written if `write`.

    Raises SpecError for a change that could lose data, and SeveralHeads for a forked history;
    in both cases nothing is written.
    """
    first = single_head(project) is None
    rules = SchemaRules(project.spec, lambda: read_document(project.root / SPEC_FILE), SPEC_FILE)
    planned: list[PlannedRevision] = []

    def rewrite(_context: Any, _revision: Any, directives: list[MigrationScript]) -> None:
        script = directives[0]
        upgrade = script.upgrade_ops
        assert upgrade is not None
        changes, before = rules.rewrite(upgrade)
        if not changes:
            directives.clear()
            return
        script.downgrade_ops = upgrade.reverse()
        upgrade.ops[:0] = before
        script.message = _message(changes, first=first, package=project.package)
        planned.append(PlannedRevision(script.message, tuple(changes)))
        if not write:
            directives.clear()

    def revise(config: Config) -> Any:
        config.attributes[REWRITE] = rewrite
        return command.revision(config, message="", autogenerate=True)

    def upgrade_then_revise(config: Config) -> Any:
        if not first:
            command.upgrade(config, "heads")
        return revise(config)

    with tempfile.TemporaryDirectory(prefix="fluvius-head-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'head.db'}"
        written = on_database(project, url, upgrade_then_revise)
    if not planned:
        return None
    path = Path(written.path) if write and written is not None else None
    if path is not None:
        tidy(path, project.package)
    return PlannedRevision(planned[0].message, planned[0].changes, path)


def _message(changes: list[str], *, first: bool, package: str) -> str:
    """A one-line summary, then every change on its own line."""
    if first:
        summary = f"create the {package} schema"
    elif len(changes) == 1:
        summary = changes[0]
    else:
        summary = f"{changes[0]} and {len(changes) - 1} more"
    if len(summary) > MESSAGE_LENGTH:
        summary = summary[: MESSAGE_LENGTH - 1] + "…"
    if len(changes) == 1 and not first:
        return summary
    return summary + "\n\n" + "\n".join(f"- {change}" for change in changes)


def tidy(path: Path, package: str) -> None:
    """Make the revision at `path` ruff-clean, as generated code is: the template imports what
    a revision may use, and the imports this one does not use go."""
    subprocess.run(
        [find_ruff_bin(), *REMOVE_UNUSED_IMPORTS, str(path)], capture_output=True, check=True
    )
    source = path.read_text(encoding="utf-8")
    formatted = format_python({path.name: source}, package)[path.name]
    path.write_text(formatted, encoding="utf-8")
