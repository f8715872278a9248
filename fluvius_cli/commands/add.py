"""`fluvius add`: grow the spec from the command line, then regenerate.

fluvius.yaml is edited in place (its comments and layout kept). An addition that would make the
spec invalid is refused with the same located errors as `fluvius check`, and the spec is left
as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluvius_cli.commands.common import ProjectOption, project_root

if TYPE_CHECKING:
    from fluvius_cli.editing import SpecEditor

app = typer.Typer(help="Add to fluvius.yaml, then regenerate.", no_args_is_help=True)
FieldsOption = Annotated[
    list[str] | None, typer.Option("--field", "-f", help="A field as name:type; repeat.")
]


@app.command()
def domain(
    name: Annotated[str, typer.Argument(help="The domain, snake_case.")],
    description: Annotated[str | None, typer.Option(help="What the domain is about.")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Add a domain (then add aggregates to it)."""
    _edit(project, lambda spec: spec.add_domain(name, description))


@app.command()
def aggregate(
    name: Annotated[str, typer.Argument(help="domain.aggregate, e.g. banking.loan")],
    field: FieldsOption = None,
    project: ProjectOption = Path(),
) -> None:
    """Add an aggregate with a creating command and its event, ready to fill in."""
    from fluvius.cli.console import out
    from fluvius_cli.editing import creating_command

    _edit(project, lambda spec: spec.add_aggregate(name, _fields(field)))
    create = creating_command(name.partition(".")[2])
    out.print(
        f"No role may use {name} yet (access is denied by default); grant it with:\n"
        f"  fluvius add policy {name} ROLE --allow {create},read"
    )


@app.command("field")
def add_field(
    aggregate: Annotated[str, typer.Argument(help="domain.aggregate")],
    name: Annotated[str, typer.Argument(help="The field, snake_case.")],
    type: Annotated[str, typer.Argument(help="string, decimal, enum, ...")],
    default: Annotated[str | None, typer.Option(help="The default, as YAML.")] = None,
    index: Annotated[bool, typer.Option(help="Index the column.")] = False,
    max_length: Annotated[int | None, typer.Option(help="string/text: most characters.")] = None,
    values: Annotated[str | None, typer.Option(help="enum: the values, comma-separated.")] = None,
    to: Annotated[str | None, typer.Option(help="ref: domain.aggregate.")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Add a state field to an aggregate."""
    declared: dict[str, Any] = {"type": type}
    if max_length is not None:
        declared["max_length"] = max_length
    if values is not None:
        declared["values"] = [value.strip() for value in values.split(",")]
    if to is not None:
        declared["to"] = to
    if default is not None:
        declared["default"] = _yaml_value(default)
    if index:
        declared["index"] = True
    _edit(project, lambda spec: spec.add_field(aggregate, declared, name))


@app.command()
def command(
    aggregate: Annotated[str, typer.Argument(help="domain.aggregate")],
    name: Annotated[str, typer.Argument(help="The command, kebab-case.")],
    emits: Annotated[str, typer.Option(help="The event it emits (added if new).")],
    field: FieldsOption = None,
    requires: Annotated[
        list[str] | None, typer.Option(help="A guard as field=value; repeat.")
    ] = None,
    create: Annotated[bool, typer.Option(help="The command creates the aggregate.")] = False,
    project: ProjectOption = Path(),
) -> None:
    """Add a command (and its event, when the aggregate lacks it)."""
    guards = dict(_assignment(text) for text in requires or [])
    _edit(
        project,
        lambda spec: spec.add_command(aggregate, name, _fields(field), emits, guards, create),
    )


@app.command()
def event(
    aggregate: Annotated[str, typer.Argument(help="domain.aggregate")],
    name: Annotated[str, typer.Argument(help="The event, kebab-case.")],
    field: FieldsOption = None,
    set: Annotated[list[str] | None, typer.Option(help="field=value or field=$x; repeat.")] = None,
    add: Annotated[list[str] | None, typer.Option(help="field=amount; repeat.")] = None,
    subtract: Annotated[list[str] | None, typer.Option(help="field=amount; repeat.")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Add an event, and how it changes the state."""
    apply = {
        operation: dict(_assignment(text) for text in given)
        for operation, given in (("set", set), ("add", add), ("subtract", subtract))
        if given
    }
    _edit(project, lambda spec: spec.add_event(aggregate, name, _fields(field), apply))


@app.command()
def policy(
    aggregate: Annotated[str, typer.Argument(help="domain.aggregate")],
    role: Annotated[str, typer.Argument(help="The role.")],
    allow: Annotated[str, typer.Option(help="Commands and `read`, comma-separated.")],
    scope: Annotated[str | None, typer.Option(help="The state field holding the caller.")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Let a role do things on an aggregate."""
    actions = [action.strip() for action in allow.split(",") if action.strip()]
    _edit(project, lambda spec: spec.add_policy(aggregate, role, actions, scope))


@app.command()
def worker(
    domain: Annotated[str, typer.Argument(help="The domain.")],
    name: Annotated[str, typer.Argument(help="The worker, kebab-case.")],
    on: Annotated[str | None, typer.Option(help="The event that triggers it.")] = None,
    cron: Annotated[str | None, typer.Option(help="A 5-field schedule, in UTC.")] = None,
    retries: Annotated[int | None, typer.Option(help="Attempts after a failure.")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Add a worker, on an event or on a schedule (its function is added to workers.py)."""
    if (on is None) == (cron is None):
        raise typer.BadParameter("give exactly one of --on and --cron")
    _edit(project, lambda spec: spec.add_worker(domain, name, on, cron, retries))


def _edit(project: Path, change: Callable[[SpecEditor], None]) -> None:
    from fluvius.cli.console import err, out
    from fluvius_cli.editing import EditError, SpecEditor
    from fluvius_cli.generate.project import generate
    from fluvius_cli.project import SPEC_FILE
    from fluvius_cli.reporting import show_changes, show_spec_errors
    from fluvius_cli.spec import SpecError, check_text

    root = project_root(project)
    spec_path = root / SPEC_FILE
    try:
        editor = SpecEditor(spec_path.read_text(encoding="utf-8"))
        change(editor)
    except EditError as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(1) from None
    edited = editor.text()
    result = check_text(edited, SPEC_FILE)
    if result.spec is None:
        show_spec_errors(SpecError(SPEC_FILE, result.diagnostics))
        err.print(f"  (the positions are those of {SPEC_FILE} as this edit would leave it)")
        raise typer.Exit(1)
    staged = spec_path.with_name(f".{SPEC_FILE}.new")
    staged.write_text(edited, encoding="utf-8")
    staged.replace(spec_path)
    out.print(f"[green]✓[/] {SPEC_FILE} updated")
    show_changes(generate(root).changes, every_file=False)


def _fields(given: list[str] | None) -> list[Any]:
    from fluvius_cli.editing import FieldArgument

    return [FieldArgument.parse(text) for text in given or []]


def _assignment(text: str) -> tuple[str, Any]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise typer.BadParameter(f"write field=value, not {text!r}")
    return name.strip(), _yaml_value(value.strip())


def _yaml_value(text: str) -> Any:
    """A command-line value read as YAML would read it: 0 is a number, open is text."""
    from fluvius_cli.spec.document import parse_scalar

    return parse_scalar(text)
