"""A plain (not editable) install into a fresh virtual environment gives a working CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 900


def _install(environment: Path) -> Path:
    """Install the repository into a new virtual environment; return its `fluvius` script."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is not None:
        subprocess.run(
            [uv, "venv", "--quiet", "--python", sys.executable, str(environment)],
            check=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        command = [uv, "pip", "install", "--quiet", "--python", str(environment / "bin" / "python")]
    else:
        venv.create(environment, with_pip=True)
        command = [str(environment / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*command, str(REPOSITORY)], check=True, timeout=INSTALL_TIMEOUT_S)
    return environment / "bin" / "fluvius"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _install(tmp_path_factory.mktemp("install") / "venv")


def _run(script: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment["FLUVIUS_CACHE_DIR"] = str(cwd / ".cache")
    return subprocess.run(
        [str(script), *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_installed_cli_checks_an_example_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    checked = _run(installed, "check", str(REPOSITORY / "examples" / "bank.yaml"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "bank.yaml: 1 domain(s), 1 aggregate(s), no errors" in checked.stdout + checked.stderr
    package = installed.parent.parent / "lib"
    assert not list(package.rglob("__editable__*")), "the install must not be editable"


def test_the_installed_cli_creates_a_project_from_its_bundled_templates(
    installed: Path, tmp_path: Path
) -> None:
    created = _run(installed, "new", "project", "bank", "--example", "bank", cwd=tmp_path)
    assert created.returncode == 0, created.stdout + created.stderr
    assert (tmp_path / "bank" / "bank" / "_generated" / "service.py").is_file()
    assert (tmp_path / "bank" / "Dockerfile").is_file()
