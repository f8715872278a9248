"""The `fluvius` command: the runtime's verbs alone, and with fluvius-cli's joined to them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fluvius.cli import application, runtime_app

RUNTIME_VERBS = ("run", "migrate", "token", "policy", "workers", "replay", "verify")
AUTHORING_VERBS = ("check", "schema", "new", "add", "generate", "upgrade", "build")


def verbs_of(arguments: list[str], *, plugins: bool) -> str:
    app = application() if plugins else runtime_app()
    result = CliRunner().invoke(app, [*arguments, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("verb", AUTHORING_VERBS)
def test_the_runtime_alone_has_no_authoring_verb(verb: str) -> None:
    result = CliRunner().invoke(runtime_app(), [verb, "--help"])
    assert result.exit_code == 2
    assert f"No such command '{verb}'" in result.output


def test_fluvius_cli_joins_its_verbs_to_the_runtime_s() -> None:
    listed = verbs_of([], plugins=True)
    for verb in RUNTIME_VERBS + AUTHORING_VERBS:
        assert f"│ {verb} " in listed, verb


def test_the_migrate_of_fluvius_cli_replaces_the_runtime_s_and_keeps_its_subcommands() -> None:
    runtime = verbs_of(["migrate"], plugins=False)
    assert {"up", "status", "down"} <= _commands(runtime)
    assert "merge" not in _commands(runtime)
    assert "--check" not in runtime
    joined = verbs_of(["migrate"], plugins=True)
    assert _commands(joined) == {"up", "status", "down", "merge"}
    assert "--check" in joined


def _commands(help_text: str) -> set[str]:
    """The names in the Commands box of a help text."""
    box = help_text.split("Commands", 1)[1] if "Commands" in help_text else ""
    return {
        line.split()[1] for line in box.splitlines() if line.startswith("│ ") and line[2] != " "
    }
