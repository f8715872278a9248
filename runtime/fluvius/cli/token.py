"""`fluvius token`: a development bearer token for the project's service."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated

import typer

from fluvius.cli.common import ProjectOption, open_project

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def token(
    sub: Annotated[str, typer.Option("--sub", help="The caller's id (the `sub` claim).")],
    role: Annotated[
        list[str], typer.Option("--role", help="A role of the caller; repeat for several.")
    ],
    tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant claim.")] = None,
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 90s, 30m, 1h, 7d.")] = "1h",
    project: ProjectOption = Path(),
) -> None:
    """Print a development token (HS256, signed with FLUVIUS_JWT_SECRET of the project)."""
    from fluvius.cli.console import err
    from fluvius.fastapi.auth import mint_token

    lifetime = parse_duration(ttl)
    found = open_project(project)
    if found.service().tenancy and tenant is None:
        raise typer.BadParameter("this service has tenancy: give --tenant", param_hint="--tenant")
    try:
        minted = mint_token(found.settings(), sub, tuple(role), tenant=tenant, ttl=lifetime)
    except ValueError as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    typer.echo(minted)


def parse_duration(text: str) -> dt.timedelta:
    """`90s`, `30m`, `1h`, `7d` as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter("use a number and a unit: 90s, 30m, 1h, 7d", param_hint="--ttl")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
