"""End-to-end fixtures: example projects generated once per session, through the CLI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.projects import fluvius

EXAMPLES = ("bank", "clinic", "shop")


class ProjectFactory:
    """Makes example projects on demand; each is made once and copied for each test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, Path] = {}

    def pristine(self, example: str) -> Path:
        """The project of `example` as `fluvius new project` left it (do not modify)."""
        if example not in self.made:
            target = self.root / "pristine" / example
            fluvius("new", "project", example, "--example", example, "--dir", str(target))
            self.made[example] = target
        return self.made[example]

    def copy(self, example: str, destination: Path) -> Path:
        """A fresh copy of the example's project, for a test that changes it."""
        target = destination / example
        shutil.copytree(self.pristine(example), target, symlinks=True)
        return target


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectFactory]:
    """Example projects, with fluvius's skeleton cache kept inside the test session."""
    root = tmp_path_factory.mktemp("projects")
    previous = os.environ.get("FLUVIUS_CACHE_DIR")
    os.environ["FLUVIUS_CACHE_DIR"] = str(root / "cache")
    try:
        yield ProjectFactory(root)
    finally:
        if previous is None:
            del os.environ["FLUVIUS_CACHE_DIR"]
        else:
            os.environ["FLUVIUS_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def examples(projects: ProjectFactory) -> dict[str, Path]:
    """Every example's project, made before any async test needs one (the CLI runs its own loop)."""
    return {example: projects.pristine(example) for example in EXAMPLES}
