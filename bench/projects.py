"""Generated projects for the benchmarks, made and migrated through the real CLI."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from fluvius.service import Service

REPOSITORY = Path(__file__).resolve().parent.parent


def fluvius(*arguments: str, database_url: str | None = None) -> None:
    """Run a fluvius verb in a process of its own; raise with its output when it fails."""
    environment = dict(os.environ)
    if database_url is not None:
        environment["FLUVIUS_DATABASE_URL"] = database_url
    finished = subprocess.run(
        [sys.executable, "-m", "fluvius_cli", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(
            f"fluvius {' '.join(arguments)} failed:\n{finished.stdout}{finished.stderr}"
        )


def example_project(
    example: str, folder: Path, *, database_url: str | None = None, name: str | None = None
) -> Path:
    """The project of an example spec under `folder`, migrated on `database_url` when given;
    named `name` instead of the example's when given (its broker subjects are then its own)."""
    if name is None:
        root = folder / example
        fluvius("new", "project", example, "--example", example, "--dir", str(root))
    else:
        folder.mkdir(parents=True, exist_ok=True)
        spec = (REPOSITORY / "examples" / example / "fluvius.yaml").read_text()
        root = spec_project(
            name, spec.replace(f"\n  name: {example}\n", f"\n  name: {name}\n"), folder
        )
    if database_url is not None:
        fluvius("migrate", "--project", str(root), database_url=database_url)
    return root


def spec_project(name: str, spec: str, folder: Path) -> Path:
    """A project created from the spec text `spec`, as `folder`/`name`."""
    source = folder / f"{name}.yaml"
    source.write_text(spec)
    root = folder / name
    fluvius("new", "project", name, "--spec", str(source), "--dir", str(root))
    return root


def import_service(root: Path, package: str) -> Service:
    """The generated service of the project at `root`."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    service: Service = importlib.import_module(f"{package}._generated.service").SERVICE
    return service
