"""`copier update` with the old skeleton taken from this machine's cache.

copier reads the template of a project's last update from `_src_path` in its answers, a path on
the machine that made it. fluvius records none: the skeleton of each version lives in the cache
repository of whichever machine runs fluvius, so this worker points copier there.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from copier._main import Worker
from copier._subproject import Subproject
from copier._types import AnyByStrDict


def update_from(repository: Path, project: Path, **settings: Any) -> None:
    """`copier update` of `project` from `repository`, both for the old and the new skeleton."""

    class CachedSubproject(Subproject):
        @property
        def _raw_answers(self) -> AnyByStrDict:
            return {**super()._raw_answers, "_src_path": str(repository)}

    class CachedWorker(Worker):
        @cached_property
        def subproject(self) -> Subproject:
            result = CachedSubproject(
                local_abspath=self.dst_path.absolute(),
                answers_relpath=self.answers_file or Path(".copier-answers.yml"),
            )
            self._cleanup_hooks.append(result._cleanup)
            return result

    with CachedWorker(dst_path=project, src_path=str(repository), **settings) as worker:
        worker.run_update()
