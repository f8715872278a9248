"""The generated project's README draws its event model, redrawn with the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvius_cli.generate.regions import EVENT_MODEL
from fluvius_cli.generate.view import ProjectView
from fluvius_cli.graph import event_model, markdown
from fluvius_cli.spec import load_spec
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, fluvius_fails

pytestmark = pytest.mark.slow


def drawing_of(root: Path) -> str:
    return markdown(event_model(ProjectView(load_spec(root / "fluvius.yaml"))))


def test_the_readme_embeds_the_event_model_redrawn_with_the_code(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    readme = root / "README.md"
    assert EVENT_MODEL.body(readme.read_text()) == drawing_of(root)
    assert "```mermaid\nflowchart LR\n" in readme.read_text()
    assert not (root / "docs" / "event-model.md").exists()
    readme.write_text(readme.read_text().replace("# bank\n", "# bank\n\nA line of mine.\n"))

    fluvius("add", "worker", "banking", "audit-closing", "--on", "account-closed", cwd=root)
    text = readme.read_text()
    assert "worker__banking__audit_closing" in text
    assert "A line of mine." in text
    assert EVENT_MODEL.body(text) == drawing_of(root)
    fluvius("generate", "--check", cwd=root)


def test_a_stale_drawing_is_reported_and_redrawn(projects: ProjectFactory, tmp_path: Path) -> None:
    root = projects.copy("clinic", tmp_path)
    readme = root / "README.md"
    stale = EVENT_MODEL.fill(readme.read_text(), "an old drawing\n")
    assert stale is not None
    readme.write_text(stale)
    output = fluvius_fails("generate", "--check", cwd=root)
    assert "README.md" in output
    fluvius("generate", cwd=root)
    assert EVENT_MODEL.body(readme.read_text()) == drawing_of(root)

    readme.write_text("# clinic, without the drawing\n")
    fluvius("generate", "--check", cwd=root)
    assert readme.read_text() == "# clinic, without the drawing\n"
