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
    """Prove that the state tables equal the fold of the events; exit 1 on any difference."""
    from fluvius.cli.console import out
    from fluvius.data import Database
    from fluvius.data import verify as compare

    found = open_project(project)

    async def run() -> bool:
        database = Database(found.settings().database_url)
        clean = True
        try:
            for chosen in _aggregates(found, aggregate):
                report = await compare(database, chosen)
                mark = "[green]✓[/]" if report.ok else "[red]✗[/]"
                out.print(f"{mark} {report.aggregate}: {report.checked} checked")
                for difference in report.differences:
                    out.print(f"  {difference.aggregate_id} {difference.problem}", markup=False)
                clean = clean and report.ok
        finally:
            await database.dispose()
        return clean

    if not asyncio.run(run()):
        out.print("state differs from the events: `fluvius replay` rebuilds it")
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
