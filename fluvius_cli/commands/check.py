"""`fluvius check`: validate a spec and report every error with its position."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluvius_cli import __version__
from fluvius_cli.spec import CheckResult, check_file
from fluvius_cli.spec.report import FORMATS, render

DEFAULT_SPEC = Path("fluvius.yaml")


def check(
    file: Annotated[Path, typer.Argument(help="The spec to check.")] = DEFAULT_SPEC,
    output_format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help=f"Output format: {', '.join(FORMATS)}.", case_sensitive=False
        ),
    ] = "text",
) -> None:
    """Check a spec: every error as path:line:col: CODE message; exit 1 when there are any."""
    output_format = output_format.lower()
    if output_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    result = check_file(file)
    if result.spec is not None and result.document is not None:
        result = _with_project_rules(file, result)
    if output_format != "text" or result.diagnostics:
        typer.echo(render(result.file, result.diagnostics, output_format, __version__))
    if result.spec is None:
        count = len(result.diagnostics)
        typer.secho(
            f"✗ {result.file}: {count} error{'s' if count != 1 else ''}", fg="red", err=True
        )
        raise typer.Exit(1)
    aggregates = sum(len(d.aggregates) for d in result.spec.domains.values())
    typer.secho(
        f"✓ {result.file}: {len(result.spec.domains)} domain(s), "
        f"{aggregates} aggregate(s), no errors",
        fg="green",
        err=True,
    )


def _with_project_rules(file: Path, result: CheckResult) -> CheckResult:
    """Inside a project, also check that every breaking event change has its upcaster."""
    from fluvius_cli.generate.event_versions import LOCK_PATH, unwritten_upcasters

    root = file.resolve().parent
    if not (root / LOCK_PATH).is_file() or result.spec is None or result.document is None:
        return result
    found = unwritten_upcasters(root, result.spec, result.document)
    return CheckResult(result.file, None, found, result.document) if found else result
