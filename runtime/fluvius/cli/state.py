"""`fluvius replay` and `fluvius verify`: the state tables and the views against the event log."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluvius.cli.common import ProjectOption, open_project

if TYPE_CHECKING:
    from fluvius.application.views import View
    from fluvius.domain.aggregate import Aggregate
    from fluvius.project import Project

AggregateOption = Annotated[
    list[str] | None,
    typer.Option("--aggregate", "-a", help="Only this domain.aggregate; repeat. Default: all."),
]


ViewOption = Annotated[
    list[str] | None,
    typer.Option("--view", help="Only this view (domain.view), not the state tables; repeat."),
]


def replay(
    aggregate: AggregateOption = None, view: ViewOption = None, project: ProjectOption = Path()
) -> None:
    """Rebuild the state tables from the event log (all at once per table; readers unaffected),
    or with --view, those views (emptied, then folded again from the start of the log)."""
    from fluvius.cli.console import out
    from fluvius.data import Database
    from fluvius.data import replay as rebuild
    from fluvius.worker.projector import Projector

    found = open_project(project)
    service = found.service()
    projections = service.tables.projections

    async def run() -> None:
        database = Database(found.settings().database_url)
        try:
            for chosen_view in _views(found, view):
                projector = Projector(service, chosen_view, database)
                await projector.rebuild()
                events = await projector.catch_up()
                out.print(f"[green]✓[/] {chosen_view.qualified_name}: from {events} events")
            for chosen in [] if view else _aggregates(found, aggregate):
                report = await rebuild(database, chosen, projections=projections)
                out.print(
                    f"[green]✓[/] {report.aggregate}: {report.aggregates} rows "
                    f"from {report.events} events"
                )
        finally:
            await database.dispose()

    asyncio.run(run())


def verify(
    aggregate: AggregateOption = None, view: ViewOption = None, project: ProjectOption = Path()
) -> None:
    """Prove that the state tables, and the views up to their checkpoints, equal the fold of
    the events, and that every file the events record is in the media store with its sha256;
    exit 1 on any difference."""
    from fluvius.application.file_check import records_files, verify_files
    from fluvius.cli.console import out
    from fluvius.data import Database
    from fluvius.data import verify as compare
    from fluvius.media import open_store
    from fluvius.worker.projector import Projector

    found = open_project(project)
    settings = found.settings()
    service = found.service()

    async def run() -> tuple[bool, bool]:
        database = Database(settings.database_url)
        media = open_store(settings.media_url)
        state_clean = files_clean = True
        try:
            for chosen_view in [] if aggregate and not view else _views(found, view):
                differences = await Projector(service, chosen_view, database).differences()
                mark = "[red]✗[/]" if differences else "[green]✓[/]"
                out.print(f"{mark} view {chosen_view.qualified_name}")
                for view_difference in differences:
                    out.print(f"  {view_difference}", markup=False)
                state_clean = state_clean and not differences
            if view and not aggregate:
                return state_clean, files_clean
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
        out.print("state differs from the events: `fluvius replay` (or `--view`) rebuilds it")
    if not files_clean:
        out.print("files that events record are missing or changed in the media store")
    if not (state_clean and files_clean):
        raise typer.Exit(1)


def _views(found: Project, names: list[str] | None) -> list[View]:
    every = found.service().views()
    if not names:
        return every
    by_name = {view.qualified_name: view for view in every}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise typer.BadParameter(
            f"no view {', '.join(unknown)}; the views are {', '.join(by_name) or 'none'}"
        )
    return [by_name[name] for name in names]


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
