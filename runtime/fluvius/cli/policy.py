"""`fluvius policy explain`: whether a caller may do something, and which rule says so."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluvius.cli.common import ProjectOption, open_project

if TYPE_CHECKING:
    from fluvius.service import Service

app = typer.Typer(help="Inspect the service's authorization policies.", no_args_is_help=True)


@app.command()
def explain(
    role: Annotated[list[str], typer.Option("--role", help="A role of the caller; repeat.")],
    action: Annotated[
        str,
        typer.Option("--action", help="domain:command (banking:deposit) or domain.aggregate:read."),
    ],
    sub: Annotated[str, typer.Option("--sub", help="The caller's id.")] = "user",
    tenant: Annotated[str | None, typer.Option("--tenant", help="The caller's tenant.")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Print the decision for a caller and action, and the policy rule that made it."""
    from fluvius.casbin import Enforcer
    from fluvius.cli.console import out

    service = open_project(project).service()
    permissions = [permission for domain in service.domains for permission in domain.permissions]
    resource, verb = _target(service, action)
    decision = Enforcer(permissions).decide(tuple(role), tenant, resource, verb)
    who = f"{sub} ({', '.join(role)})" + (f" in tenant {tenant}" if tenant else "")
    if not decision.allowed:
        out.print(f"[red]deny[/]  {who}: {resource}:{verb}")
        out.print("  no policy row allows it for these roles (nor for `public`)")
        raise typer.Exit(1)
    out.print(f"[green]allow[/] {who}: {resource}:{verb}")
    for rule in decision.rules:
        out.print(f"  rule: p, {', '.join(rule).rstrip(', ')}", markup=False)
    if decision.scoped:
        fields = " or ".join(decision.scopes)
        out.print(f"  only on {resource} rows whose {fields} is {sub}")


def _target(service: Service, action: str) -> tuple[str, str]:
    """(domain.aggregate, action) from `domain:command` or `domain.aggregate:action`."""
    from fluvius.casbin import READ

    place, _, verb = action.partition(":")
    if not verb:
        raise typer.BadParameter(
            "write domain:command or domain.aggregate:read", param_hint="--action"
        )
    actions = {
        aggregate.qualified_name(): [*aggregate.commands, READ]
        for aggregate in service.aggregates()
    }
    if "." in place:
        if place not in actions:
            raise typer.BadParameter(f"no aggregate {place}", param_hint="--action")
        if verb not in actions[place]:
            raise typer.BadParameter(
                f"{place} has no action {verb}; its actions: {', '.join(actions[place])}",
                param_hint="--action",
            )
        return place, verb
    owners = [
        name
        for name, allowed in actions.items()
        if name.partition(".")[0] == place and verb in allowed and verb != READ
    ]
    if len(owners) != 1:
        problem = "no aggregate of" if not owners else "several aggregates of"
        raise typer.BadParameter(
            f"{problem} domain {place} take {verb}: write domain.aggregate:{verb}",
            param_hint="--action",
        )
    return owners[0], verb
