"""Every example spec is valid, and the README of an example draws its spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvius_cli.generate.regions import EVENT_MODEL
from fluvius_cli.generate.render import Owner, render_project
from fluvius_cli.generate.view import ProjectView
from fluvius_cli.graph import event_model, markdown
from fluvius_cli.resources import example_user_files
from fluvius_cli.spec import check_file, load_spec

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/fluvius.yaml"))
READMES = [path.with_name("README.md") for path in EXAMPLES if path.with_name("README.md").exists()]


def test_there_are_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.parent.name for path in EXAMPLES])
def test_example_is_valid(path: Path) -> None:
    result = check_file(path)
    assert result.diagnostics == []
    assert result.spec is not None
    assert result.spec.domains


def test_the_bank_example_has_a_readme() -> None:
    assert [readme.parent.name for readme in READMES] == ["bank"]


@pytest.mark.parametrize("readme", READMES, ids=[path.parent.name for path in READMES])
def test_an_example_readme_embeds_the_drawing_of_its_spec(readme: Path) -> None:
    spec = load_spec(readme.with_name("fluvius.yaml"))
    drawing = markdown(event_model(ProjectView(spec)))
    assert EVENT_MODEL.body(readme.read_text(encoding="utf-8")) == drawing


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.parent.name for path in EXAMPLES])
def test_an_example_ships_code_only_where_its_user_owns_files(path: Path) -> None:
    owners = {file.path: file.owner for file in render_project(load_spec(path))}
    shipped = example_user_files(path.parent.name)
    assert any(name.startswith("tests/test_") for name in shipped)
    assert {name: owners.get(name, Owner.USER) for name in shipped} == dict.fromkeys(
        shipped, Owner.USER
    )
