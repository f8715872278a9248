"""The generated project documents its event model: docs/event-model.md, redrawn with the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvius_cli.generate.view import ProjectView
from fluvius_cli.graph import event_model, markdown
from fluvius_cli.spec import load_spec
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius

pytestmark = pytest.mark.slow


def page_of(root: Path) -> str:
    return markdown(event_model(ProjectView(load_spec(root / "fluvius.yaml"))))


def test_the_readme_links_the_event_model_redrawn_with_the_code(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    page = root / "docs" / "event-model.md"
    assert "[The event model](docs/event-model.md)" in (root / "README.md").read_text()
    assert page.read_text() == page_of(root)
    assert "```mermaid\nflowchart LR\n" in page.read_text()
    fluvius("add", "worker", "banking", "audit-closing", "--on", "account-closed", cwd=root)
    assert "worker__banking__audit_closing" in page.read_text()
    assert page.read_text() == page_of(root)
    fluvius("generate", "--check", cwd=root)
