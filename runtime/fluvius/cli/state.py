"""`fluvius replay` and `fluvius verify`: the state tables against the event log."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluvius.cli.common import ProjectOption, open_project

if TYPE_CHECKING:
    from fluvius.domain.aggregate import Aggregate
    from fluvius.project import Project

AggregateOption = Annotated[
    list[str] | None,
    typer.Option("--aggregate", "-a", help="Only this domain.aggregate; repeat. Default: all."),
]


def replay(aggregate: AggregateOption = None, project: ProjectOption = Path()) -> None:
    """Rebuild the state tables from the event log (all at once per table; readers unaffected)."""
    from fluvius.cli.console import out
    from fluvius.data import Database
    from fluvius.data import replay as rebuild

    found = open_project(project)
    projections = found.service().tables.projections

    async def run() -> None:
        database = Database(found.settings().database_url)
        try:
            for chosen in _aggregates(found, aggregate):
                report = await rebuild(database, chosen, projections=projections)
                out.print(
                    f"[green]✓[/] {report.aggregate}: {report.aggregates} rows "
                    f"from {report.events} events"
                )
        finally:
            await database.dispose()

    asyncio.run(run())


def verify(aggregate: AggregateOption = None, project: ProjectOption = Path()) -> None:
    """Prove that the state tables equal the fold of the events, and that every file the events
    record is in the media store with its sha256; exit 1 on any difference."""
    from fluvius.application.file_check import records_files, verify_files
    from fluvius.cli.console import out
    from fluvius.data import Database
    from fluvius.data import verify as compare
    from fluvius.media import open_store

    found = open_project(project)
    settings = found.settings()

    async def run() -> tuple[bool, bool]:
        database = Database(settings.database_url)
        media = open_store(settings.media_url)
        state_clean = files_clean = True
        try:
            for chosen in _aggregates(found, aggregate):
                report = await compare(database, chosen)
                mark = "[green]✓[/]" if report.ok else "[red]✗[/]"
                out.print(f"{mark} {report.aggregate}: {report.checked} checked")
                for difference in report.differences:
                    out.print(f"  {difference.aggregate_id} {difference.problem}", markup=False)
                state_clean = state_clean and report.ok
                if records_files(chosen):
                    files = await verify_files(database, chosen, media)
                    mark = "[green]✓[/]" if files.ok else "[red]✗[/]"
                    out.print(f"{mark} {files.aggregate} files: {files.checked} checked")
                    for problem in files.problems:
                        out.print(f"  file {problem.file_id} {problem.problem}", markup=False)
                    files_clean = files_clean and files.ok
        finally:
            await database.dispose()
        return state_clean, files_clean

    state_clean, files_clean = asyncio.run(run())
    if not state_clean:
        out.print("state differs from the events: `fluvius replay` rebuilds it")
    if not files_clean:
        out.print("files that events record are missing or changed in the media store")
    if not (state_clean and files_clean):
        raise typer.Exit(1)


def _aggregates(found: Project, names: list[str] | None) -> list[type[Aggregate[Any]]]:
    every = found.service().aggregates()
    if not names:
        return every
    by_name = {aggregate.qualified_name(): aggregate for aggregate in every}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise typer.BadParameter(
            f"no aggregate {', '.join(unknown)}; the aggregates are {', '.join(by_name)}"
        )
    return [by_name[name] for name in names]
