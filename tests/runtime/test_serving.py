"""The app factory of `fluvius run`: the project's app, in a process tuned for serving it."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from fluvius.cli.serving import GC_THRESHOLDS, PACKAGE_VARIABLE, create_app

PROJECT_APP = """
from fastapi import FastAPI


def create_app() -> FastAPI:
    return FastAPI(title="served")
"""


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_served_app_is_the_projects_and_the_collector_is_tuned_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restored_collector: None
) -> None:
    package = tmp_path / "served_project"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(PROJECT_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(PACKAGE_VARIABLE, "served_project")
    gc.unfreeze()
    try:
        application = create_app()
    finally:
        sys.modules.pop("served_project.app", None)
        sys.modules.pop("served_project", None)
    assert isinstance(application, FastAPI)
    assert application.title == "served"
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
