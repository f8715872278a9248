"""The project skeleton (pyproject, Dockerfile, compose, alembic...) through copier.

copier updates a project by diffing two versions of its template, so the template must live in
git. fluvius keeps a small repository of its skeleton in the user's cache: each installed
version commits its skeleton there once, tagged `v<version>`. `new project` copies from that
tag; `upgrade` runs `copier update` from the project's recorded tag to the current one. The
project records the tag, never the cache's path: any machine's cache serves.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fluvius_cli import __version__
from fluvius_cli.resources import templates_dir

CACHE_VARIABLE = "FLUVIUS_CACHE_DIR"
ANSWERS_FILE = ".copier-answers.yml"
_GIT_IDENTITY = ["-c", "user.name=fluvius", "-c", "user.email=fluvius@localhost"]


class SkeletonError(RuntimeError):
    """The skeleton cannot be copied or updated; the message says what to do."""


def cache_dir() -> Path:
    """Where fluvius keeps its skeleton repository ($FLUVIUS_CACHE_DIR, else ~/.cache/fluvius)."""
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "fluvius"


def version_tag() -> str:
    return f"v{__version__}"


class SkeletonCopier:
    """A child process that renders the skeleton where and with what answers it is told.

    It starts at once and loads copier and prepares the cache repository before it is told, so
    that this happens while the parent checks the spec and generates code.
    """

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def copy(self, target: Path, answers: dict[str, Any]) -> None:
        """Tell the child to render into `target` (an empty folder) with `answers`."""
        assert self._child.stdin is not None
        # The answers hold the JWT secret: never on a command line.
        self._child.stdin.write(json.dumps({"target": str(target), "answers": answers}))
        self._child.stdin.close()

    def wait(self) -> None:
        """Wait for the copy, raising SkeletonError if it failed."""
        assert self._child.stderr is not None
        message = self._child.stderr.read().strip()
        status = self._child.wait()
        if status != 0:
            raise SkeletonError(message or f"copying the skeleton failed ({status})")

    def close(self) -> None:
        """End the child: untold, it exits once its repository is prepared (never killed while
        git writes there); told, an unfinished copy is stopped."""
        assert self._child.stdin is not None
        assert self._child.stderr is not None
        if not self._child.stdin.closed:
            self._child.stdin.close()
        elif self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        self._child.stderr.close()


@contextmanager
def skeleton_copier() -> Iterator[SkeletonCopier]:
    """A SkeletonCopier, ended when the block is left."""
    copier = SkeletonCopier()
    try:
        yield copier
    finally:
        copier.close()


def copy_skeleton(target: Path, answers: dict[str, Any], repository: Path | None) -> None:
    """Render the skeleton into `target` (an empty folder) with `answers`, from `repository`
    (see `skeleton_repository`) or, without git, from the installed templates."""
    import copier

    source, ref = (str(repository), version_tag()) if repository else (str(_source()), None)
    copier.run_copy(
        source,
        str(target),
        data=answers,
        vcs_ref=ref,
        defaults=True,
        overwrite=True,
        quiet=True,
    )


def update_skeleton(project: Path) -> None:
    """`copier update` of the project's skeleton to this fluvius version, keeping its answers.

    The skeleton it was made from is taken from this machine's cache, by its recorded version.
    """
    repository = skeleton_repository()
    if repository is None:
        raise SkeletonError("fluvius upgrade needs git, and git is not installed")
    answers = project / ANSWERS_FILE
    if not answers.is_file():
        raise SkeletonError(f"{project} has no {ANSWERS_FILE}: it was not made by fluvius new")
    recorded = _recorded_tag(answers)
    if not _git(repository, "tag", "--list", recorded):
        raise SkeletonError(
            f"{ANSWERS_FILE} records the skeleton {recorded}, unknown to this machine's cache"
            f" ({repository}): run fluvius upgrade once with fluvius {recorded.removeprefix('v')},"
            " then with this one"
        )
    from copier.errors import UserMessageError

    from fluvius_cli.generate.skeleton_update import update_from

    try:
        update_from(
            repository,
            project,
            data={"fluvius_version": __version__},
            vcs_ref=version_tag(),
            defaults=True,
            overwrite=True,
            skip_answered=True,
            quiet=True,
        )
    except UserMessageError as exc:
        raise SkeletonError(str(exc)) from None


def _recorded_tag(answers: Path) -> str:
    """The skeleton version (`_commit`) that the answers file records."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        recorded = YAML(typ="safe").load(answers.read_text())
    except YAMLError:
        recorded = None
    commit = recorded.get("_commit") if isinstance(recorded, dict) else None
    if not isinstance(commit, str) or not commit:
        raise SkeletonError(f"{answers} records no skeleton version (_commit)")
    return commit


def skeleton_repository() -> Path | None:
    """The cache repository, with this version's skeleton committed and tagged; None without git."""
    if shutil.which("git") is None:
        return None
    repository = cache_dir() / "skeleton"
    repository.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir() / "skeleton.lock"):
        if not (repository / ".git").exists():
            _git(repository, "init", "--quiet")
        for entry in repository.iterdir():
            if entry.name != ".git":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        shutil.copytree(_source(), repository, dirs_exist_ok=True)
        _git(repository, "add", "--all")
        if _git(repository, "status", "--porcelain"):
            _git(repository, *_GIT_IDENTITY, "commit", "--quiet", "-m", f"fluvius {__version__}")
            _git(repository, "tag", "--force", version_tag())
        elif not _git(repository, "tag", "--list", version_tag()):
            _git(repository, "tag", version_tag())
    return repository


def _source() -> Path:
    return templates_dir() / "project"


def _git(repository: Path, *arguments: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repository), *arguments], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SkeletonError(f"git {arguments[0]} failed in {repository}: {result.stderr.strip()}")
    return result.stdout.strip()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _copy_from_stdin() -> None:
    """The SkeletonCopier's child: prepare, then render as told on stdin; errors on stderr."""
    try:
        import copier  # noqa: F401  (loaded before the order comes, like the repository)

        repository = skeleton_repository()
        order = sys.stdin.read()
        if not order:  # the parent stopped before it had a project to copy into
            return
        arguments = json.loads(order)
        copy_skeleton(Path(arguments["target"]), arguments["answers"], repository)
    except Exception as error:
        print(str(error) or type(error).__name__, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    _copy_from_stdin()
