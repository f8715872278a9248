"""The consoles every verb writes to: results on stdout, progress and problems on stderr."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell


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
