"""Plain (not editable) installs into fresh virtual environments: fluvius-cli and the runtime
give the whole CLI; the wheels `fluvius build` writes serve the service with the runtime alone,
installed without a package index."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.network import free_port

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 900


def _install(environment: Path, *requirements: str) -> Path:
    """Install `requirements` into a new virtual environment; return its `fluvius` script."""
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
    subprocess.run([*command, *requirements], check=True, timeout=INSTALL_TIMEOUT_S)
    return environment / "bin" / "fluvius"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runtime and fluvius-cli, as the README installs them."""
    environment = tmp_path_factory.mktemp("install") / "venv"
    return _install(environment, str(REPOSITORY / "runtime"), str(REPOSITORY))


def _environment(cwd: Path, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment["FLUVIUS_CACHE_DIR"] = str(cwd / ".cache")
    return {**environment, **extra}


def _run(
    script: Path, *arguments: str, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *arguments],
        cwd=cwd,
        env=_environment(cwd, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_installed_cli_checks_an_example_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    spec = REPOSITORY / "examples" / "bank" / "fluvius.yaml"
    checked = _run(installed, "check", str(spec), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        "bank/fluvius.yaml: 1 domain(s), 1 aggregate(s), no errors"
        in checked.stdout + checked.stderr
    )
    package = installed.parent.parent / "lib"
    assert not list(package.rglob("__editable__*")), "the install must not be editable"


def test_the_installed_cli_creates_a_project_from_its_bundled_templates(
    installed: Path, tmp_path: Path
) -> None:
    created = _run(installed, "new", "project", "bank", "--example", "bank", cwd=tmp_path)
    assert created.returncode == 0, created.stdout + created.stderr
    assert (tmp_path / "bank" / "bank" / "_generated" / "service.py").is_file()
    assert (tmp_path / "bank" / "Dockerfile").is_file()
    rules = (tmp_path / "bank" / "bank" / "banking" / "account.py").read_text()
    assert "SECOND_TELLER_ABOVE" in rules  # the example's code is bundled too


GENERATOR = ("copier", "jinja2", "ruamel", "ruff", "fluvius_cli")


def _ready(url: str, server: subprocess.Popen[str]) -> int:
    """The status of GET `url`, once the server answers (within a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the server never answered {url}")


def test_the_wheels_fluvius_build_writes_serve_the_service_without_an_index(
    installed: Path, tmp_path: Path
) -> None:
    made = _run(installed, "new", "project", "bank", "--example", "bank", cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    project = tmp_path / "bank"
    built = _run(installed, "build", cwd=project)
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = project / "wheels"
    names = {wheel.name.split("-")[0] for wheel in wheels.glob("*.whl")}
    assert {"bank", "fluvius", "fastapi", "uvicorn"} <= names
    assert not names & {"copier", "jinja2", "ruff", "fluvius_cli"}

    # As the Dockerfile does: only the wheels, no index; then the files the image copies.
    served = _install(tmp_path / "served", "--no-index", "--find-links", str(wheels), "bank")
    site = next((tmp_path / "served" / "lib").glob("python*/site-packages"))
    assert not [name for name in GENERATOR if list(site.glob(f"{name}*"))]
    image = tmp_path / "image"
    image.mkdir()
    for name in ("pyproject.toml", "alembic.ini", "migrations"):
        source = project / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, image / name)
    authoring = _run(served, "check", "fluvius.yaml", cwd=image)
    assert authoring.returncode == 2, authoring.stdout + authoring.stderr
    assert "No such command 'check'" in authoring.stderr
    migrated = _run(served, "migrate", "up", cwd=image)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    port = free_port()
    server = subprocess.Popen(
        [str(served), "run", "--port", str(port)],
        cwd=image,
        env=_environment(image, FLUVIUS_JWT_SECRET="a-secret-of-32-bytes-or-more-for-hs256"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _ready(f"http://127.0.0.1:{port}/readyz", server) == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
