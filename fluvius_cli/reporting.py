"""How verbs show what they did: a table of file changes, spec errors, and failures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from fluvius_cli.console import err, out
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


def show_table(columns: Sequence[str], rows: Sequence[Sequence[str | Text]]) -> None:
    """Rows under their columns' headers on stdout: a table on a terminal; in a pipe, plain
    lines with each column padded to its widest cell, never cut or wrapped (paths stay whole)."""
    if out.is_terminal:
        table = Table(header_style="bold", box=None, pad_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    lines = [list(columns), *([_plain(cell) for cell in row] for row in rows)]
    widths = [max(map(len, column)) for column in zip(*lines, strict=True)]
    for line in lines:
        padded = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        out.print(Text(padded.rstrip()), soft_wrap=True)


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell


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
