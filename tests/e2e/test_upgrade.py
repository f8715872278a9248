"""`fluvius upgrade` on another machine: the answers record nothing of the machine that made
the project, so another cache of the skeleton serves as well."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fluvius_cli.generate import skeleton
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, fluvius_fails


def committed(root: Path) -> Path:
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"],
    ):
        subprocess.run(["git", *command], cwd=root, check=True)
    return root


@pytest.fixture
def moved(projects: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bank project, copied to another machine: another folder and another cache."""
    made_with = Path(skeleton.cache_dir())
    root = projects.copy("bank", tmp_path / "elsewhere")
    monkeypatch.setenv(skeleton.CACHE_VARIABLE, str(tmp_path / "other-cache"))
    answers = (root / skeleton.ANSWERS_FILE).read_text()
    assert str(made_with) not in answers
    assert "_src_path" not in answers
    return committed(root)


def test_upgrade_on_another_machine_uses_its_own_cache(moved: Path) -> None:
    fluvius("upgrade", cwd=moved)
    answers = (moved / skeleton.ANSWERS_FILE).read_text()
    assert f"_commit: {skeleton.version_tag()}" in answers
    assert "_src_path" not in answers
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=moved, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_upgrade_from_an_unknown_version_fails_in_one_line(moved: Path) -> None:
    answers = moved / skeleton.ANSWERS_FILE
    answers.write_text(answers.read_text().replace(skeleton.version_tag(), "v0.0.7"))
    committed(moved)
    output = fluvius_fails("upgrade", cwd=moved)
    assert output.strip().count("\n") == 0, output
    assert "v0.0.7" in output
    assert "fluvius 0.0.7" in output
