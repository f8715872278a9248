"""`fluvius new project`: a new service project from a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluvius_cli.resources import (
    example_names,
    example_spec,
    example_user_files,
    templates_dir,
)
from fluvius_cli.spec import SpecError
from fluvius_cli.spec.names import SNAKE

app = typer.Typer(help="Create things: `fluvius new project NAME`.", no_args_is_help=True)


@app.command()
def project(
    name: Annotated[
        str, typer.Argument(help="The project's folder (and package, for the starter).")
    ],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Start from this spec file.", exists=True)
    ] = None,
    example: Annotated[
        str | None,
        typer.Option(
            "--example",
            help="Start from an example: its spec and its code (bank, ...).",
        ),
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to create it (default: ./NAME).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder.")] = False,
) -> None:
    """Create a project: skeleton, fluvius.yaml, generated code and its tests."""
    from fluvius.cli.console import err, out
    from fluvius_cli.generate.creation import ProjectError, new_project
    from fluvius_cli.generate.skeleton import SkeletonError
    from fluvius_cli.reporting import show_spec_errors

    spec_text, spec_name = _spec_source(name, spec, example)
    user_files = example_user_files(example) if example is not None else {}
    target = directory or Path(name)
    try:
        with err.status(f"Creating {target}…"):
            generation = new_project(
                target, spec_text, spec_name, user_files=user_files, force=force
            )
    except SpecError as error:
        show_spec_errors(error)
        raise typer.Exit(1) from None
    except (ProjectError, SkeletonError) as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    package = generation.spec.project.name
    out.print(
        f"[green]✓[/] created {target} (package [bold]{package}[/]): the skeleton, "
        f"{len(generation.changes)} files of code and tests, and the first migration"
    )
    out.print(f"  cd {target} && fluvius migrate && pytest && fluvius run")


def _spec_source(name: str, spec: Path | None, example: str | None) -> tuple[str, str]:
    if spec is not None and example is not None:
        raise typer.BadParameter("give --spec or --example, not both")
    if spec is not None:
        return spec.read_text(encoding="utf-8"), str(spec)
    if example is not None:
        if example not in example_names():
            choices = ", ".join(example_names())
            raise typer.BadParameter(f"no example '{example}'; choose one of {choices}")
        path = example_spec(example)
        return path.read_text(encoding="utf-8"), f"examples/{example}/{path.name}"
    if not SNAKE.fullmatch(name):
        raise typer.BadParameter("without --spec, NAME is the package name: use snake_case")
    import jinja2

    starter = (templates_dir() / "starter.yaml.jinja").read_text(encoding="utf-8")
    return jinja2.Template(starter, keep_trailing_newline=True).render(name=name), "fluvius.yaml"
