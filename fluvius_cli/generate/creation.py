"""`fluvius new project`: a new project, all of it or nothing at all."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

from fluvius_cli import __version__
from fluvius_cli.generate.project import Generation, generate, with_schema_line
from fluvius_cli.generate.skeleton import SkeletonCopier, skeleton_copier
from fluvius_cli.project import SPEC_FILE, Project
from fluvius_cli.spec import Spec, SpecError, check_text


class ProjectError(RuntimeError):
    """The project cannot be created; the message says why."""


def new_project(target: Path, spec_text: str, spec_name: str, *, force: bool = False) -> Generation:
    """Create a project at `target` from `spec_text`: all of it, or nothing at all."""
    with skeleton_copier() as skeleton:
        result = check_text(spec_text, spec_name)
        if result.spec is None:
            raise SpecError(spec_name, result.diagnostics)
        if target.exists() and not target.is_dir():
            raise ProjectError(f"{target} exists and is not a folder")
        if target.is_dir() and any(target.iterdir()) and not force:
            raise ProjectError(f"{target} is not empty; use --force to write into it anyway")
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            generation = _fill(scratch, skeleton, spec_text, result.spec)
            scratch.chmod(_folder_mode())  # mkdtemp makes it private
            if target.exists():
                shutil.copytree(scratch, target, dirs_exist_ok=True)
            else:
                scratch.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return generation


def _fill(scratch: Path, skeleton: SkeletonCopier, spec_text: str, spec: Spec) -> Generation:
    """Skeleton, spec, generated code and first revision, in `scratch`."""
    project = spec.project
    answers = {
        "package": project.name,
        "description": project.description or "",
        "fluvius_version": __version__,
        "tenancy": project.tenancy,
        "jwt_secret": secrets.token_urlsafe(48),
    }
    skeleton.copy(scratch, answers)
    (scratch / SPEC_FILE).write_text(with_schema_line(spec_text), encoding="utf-8")
    generation = generate(scratch, spec=spec)
    # alembic takes a while to import: here it loads while the skeleton is still being copied.
    from fluvius_cli.migrations.revise import plan_revision

    skeleton.wait()
    plan_revision(Project(scratch, generation.spec.project.name, generation.spec), write=True)
    return generation


def _folder_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask
