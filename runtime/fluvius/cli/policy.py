"""`fluvius policy explain`: whether a caller may do something, and which rule says so."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluvius_cli.commands.common import ProjectOption, open_project

if TYPE_CHECKING:
    from fluvius_cli.generate.view import ProjectView

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
    from fluvius.casbin import Enforcer, Permission
    from fluvius_cli.console import out
    from fluvius_cli.generate.view import ProjectView

    view = ProjectView(open_project(project).spec)
    permissions = [
        Permission(p.role, p.resource, p.action, p.scope)
        for domain in view.domains
        for aggregate in domain.aggregates
        for p in aggregate.permissions
    ]
    resource, verb = _target(view, action)
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


def _target(view: ProjectView, action: str) -> tuple[str, str]:
    """(domain.aggregate, action) from `domain:command` or `domain.aggregate:action`."""
    place, _, verb = action.partition(":")
    if not verb:
        raise typer.BadParameter(
            "write domain:command or domain.aggregate:read", param_hint="--action"
        )
    aggregates = [a for d in view.domains for a in d.aggregates]
    if "." in place:
        chosen = next((a for a in aggregates if a.qualified_name == place), None)
        if chosen is None:
            raise typer.BadParameter(f"no aggregate {place}", param_hint="--action")
        if verb not in chosen.actions:
            raise typer.BadParameter(
                f"{place} has no action {verb}; its actions: {', '.join(chosen.actions)}",
                param_hint="--action",
            )
        return place, verb
    owners = [
        a for a in aggregates if a.domain.name == place and verb in a.actions and verb != "read"
    ]
    if len(owners) != 1:
        problem = "no aggregate of" if not owners else "several aggregates of"
        raise typer.BadParameter(
            f"{problem} domain {place} take {verb}: write domain.aggregate:{verb}",
            param_hint="--action",
        )
    return owners[0].qualified_name, verb
