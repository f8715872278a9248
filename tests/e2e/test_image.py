"""The generated Dockerfile and compose file, read as Docker would: every command they run is a
verb of the runtime alone, every file they copy is in the project, and the image needs no index."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from fluvius.cli import runtime_app
from tests.e2e.conftest import ProjectFactory

pytestmark = pytest.mark.slow

WRITTEN_BY_BUILD = "wheels/"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined."""
    text = dockerfile.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def runtime_runs(command: list[str]) -> bool:
    """Whether `fluvius ARGS` names a verb of the runtime without fluvius-cli."""
    assert command[0] == "fluvius", command
    return CliRunner().invoke(runtime_app(), [*command[1:], "--help"]).exit_code == 0


@pytest.fixture(scope="module")
def bank(projects: ProjectFactory) -> Path:
    return projects.pristine("bank")


def test_the_image_installs_the_built_wheels_only_and_runs_as_its_own_user(bank: Path) -> None:
    steps = instructions(bank / "Dockerfile")
    stages = [i for i, (name, _) in enumerate(steps) if name == "FROM"]
    assert len(stages) == 2
    install, final = steps[: stages[1]], steps[stages[1] :]
    runs = " ".join(arguments for name, arguments in install if name == "RUN")
    assert "pip install --no-cache-dir --no-index --find-links /wheels bank" in runs
    assert ("COPY", "--from=install /opt/venv /opt/venv") in final
    users = [arguments for name, arguments in final if name == "USER"]
    assert users == ["bank"]
    assert "useradd --system --user-group" in " ".join(a for n, a in final if n == "RUN")
    health = next(arguments for name, arguments in final if name == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/readyz" in health
    assert runtime_runs(json.loads(dict(final)["CMD"]))


def test_the_image_copies_files_the_project_has(bank: Path) -> None:
    ignored = (bank / ".dockerignore").read_text().splitlines()
    assert WRITTEN_BY_BUILD not in ignored
    assert WRITTEN_BY_BUILD in (bank / ".gitignore").read_text().splitlines()
    for name, arguments in instructions(bank / "Dockerfile"):
        if name != "COPY" or arguments.startswith("--from"):
            continue
        *sources, _ = arguments.split()
        for source in sources:
            assert source == WRITTEN_BY_BUILD or (bank / source).exists(), source


def test_every_compose_command_is_a_runtime_verb(bank: Path) -> None:
    compose = YAML(typ="safe").load(bank / "compose.yaml")
    built = {name: s for name, s in compose["services"].items() if "build" in s}
    assert set(built) == {"api", "worker"}
    for service in built.values():
        words = shlex.split(service["command"])
        script = words[2] if words[:2] == ["sh", "-c"] else shlex.join(words)
        for command in script.split("&&"):
            assert runtime_runs(shlex.split(command)), command
    assert built["worker"]["healthcheck"] == {"disable": True}
