"""How verbs show what they did: a table of file changes, spec errors, and failures."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.text import Text

from fluvius.cli.console import err, out, show_table
from fluvius_cli.spec.report import as_text

if TYPE_CHECKING:
    from fluvius_cli.generate.sync import Change
    from fluvius_cli.spec import SpecError

_STYLES = {
    "create": "green",
    "update": "cyan",
    "extend": "cyan",
    "delete": "red",
    "skipped-edited": "yellow",
    "kept": "dim",
    "unchanged": "dim",
}


def show_changes(changes: list[Change], *, every_file: bool) -> None:
    """A table of the changes (all files with `every_file`), then a one-line count."""
    shown = [c for c in changes if every_file or c.action.changes_tree or c.note]
    if shown:
        show_table(
            ("action", "file", ""),
            [
                (
                    Text(change.action.value, style=_STYLES[change.action.value]),
                    change.path,
                    Text(change.note, style="dim"),
                )
                for change in shown
            ],
        )
    counts = Counter(change.action.value for change in changes)
    out.print(", ".join(f"{count} {action}" for action, count in sorted(counts.items())))


def show_spec_errors(error: SpecError) -> None:
    """Every located error of an invalid spec."""
    for diagnostic in error.diagnostics:
        err.print(as_text(error.file, diagnostic), markup=False, highlight=False)
    count = len(error.diagnostics)
    err.print(
        f"[red]✗[/] {error.file}: {count} error{'s' if count != 1 else ''}; nothing was written"
    )
