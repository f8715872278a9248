"""Bring a project's files in line with its spec, never overwriting what a person wrote.

`plan` compares the rendered files with the disk and the manifest; `apply` writes the plan:
every new content is staged first, so a failure before the moves leaves the project untouched.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from fluvius_cli.generate.manifest import MANIFEST_PATH, Manifest, digest
from fluvius_cli.generate.render import Owner, RenderedFile
from fluvius_cli.generate.user_files import UnreadableUserFile, extend

SIDE_SUFFIX = ".fluvius-new"


class Action(Enum):
    """What generation does to one file."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIPPED_EDITED = "skipped-edited"
    DELETE = "delete"
    KEPT = "kept"
    EXTEND = "extend"

    @property
    def changes_tree(self) -> bool:
        """Whether the project differs from its spec while this action is pending."""
        return self not in (Action.UNCHANGED, Action.KEPT)


@dataclass(frozen=True)
class Change:
    """One file's action; `content` is what gets written (beside the file when it is edited)."""

    path: str
    action: Action
    content: str | None = None
    note: str = ""


def plan(root: Path, files: list[RenderedFile], manifest: Manifest) -> list[Change]:
    """What generating `files` into the project at `root` would do, file by file."""
    changes = [_change(root, file, manifest) for file in files]
    rendered = {file.path for file in files}
    for path in sorted(set(manifest.files) - rendered):
        on_disk = _read(root / path)
        if on_disk is None:
            continue
        if manifest.written_by_fluvius(path, on_disk):
            changes.append(Change(path, Action.DELETE, note="no longer in the spec"))
        else:
            changes.append(Change(path, Action.KEPT, note="no longer in the spec, but edited"))
    return sorted(changes, key=lambda change: change.path)


def _change(root: Path, file: RenderedFile, manifest: Manifest) -> Change:
    on_disk = _read(root / file.path)
    if file.owner is Owner.REGION:
        return region_change(file, on_disk)
    if on_disk is None:
        return Change(file.path, Action.CREATE, file.content)
    if file.owner is Owner.USER:
        return _user_change(file, on_disk)
    if on_disk == file.content:
        return Change(file.path, Action.UNCHANGED)
    if manifest.written_by_fluvius(file.path, on_disk):
        return Change(file.path, Action.UPDATE, file.content)
    return Change(
        file.path,
        Action.SKIPPED_EDITED,
        file.content,
        note=f"edited by hand; the new version is in {file.path}{SIDE_SUFFIX}",
    )


def region_change(file: RenderedFile, on_disk: str | None) -> Change:
    """A user file's region brought in line; the file is kept as it is without its markers."""
    assert file.markers is not None, "a region has markers"
    filled = None if on_disk is None else file.markers.fill(on_disk, file.content)
    if filled is None:
        return Change(file.path, Action.KEPT, note=f"no {file.markers.name} markers to fill")
    if filled == on_disk:
        return Change(file.path, Action.UNCHANGED)
    return Change(file.path, Action.UPDATE, filled, note=f"redrew its {file.markers.name}")


def _user_change(file: RenderedFile, on_disk: str) -> Change:
    try:
        extension = extend(on_disk, file.sections)
    except UnreadableUserFile as problem:
        needs = ", ".join(section.name for section in file.sections)
        note = f"does not parse ({problem})" + (f"; it needs {needs}" if needs else "")
        return Change(file.path, Action.KEPT, note=note)
    if not extension.added:
        return Change(file.path, Action.KEPT)
    return Change(
        file.path, Action.EXTEND, extension.content, note=f"added {', '.join(extension.added)}"
    )


def next_manifest(changes: list[Change], manifest: Manifest, files: list[RenderedFile]) -> Manifest:
    """The manifest after `changes`: hashes of what fluvius wrote, edits still marked as edits."""
    generated = {file.path: file for file in files if file.owner is Owner.FLUVIUS}
    recorded = {}
    for change in changes:
        if change.path not in generated:
            continue
        if change.action is Action.SKIPPED_EDITED:
            if change.path in manifest.files:
                recorded[change.path] = manifest.files[change.path]
        else:
            recorded[change.path] = digest(generated[change.path].content)
    return Manifest(recorded)


def apply(root: Path, changes: list[Change], manifest: Manifest) -> None:
    """Write `changes` and the new `manifest` into the project at `root`."""
    staging = root / ".fluvius" / f"staging-{uuid.uuid4().hex}"
    moves: list[tuple[Path, Path]] = []
    try:
        for change in changes:
            if change.content is None:
                continue
            name = change.path + (SIDE_SUFFIX if change.action is Action.SKIPPED_EDITED else "")
            staged = staging / name
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_text(change.content, encoding="utf-8")
            moves.append((staged, root / name))
        staged_manifest = staging / MANIFEST_PATH
        staged_manifest.parent.mkdir(parents=True, exist_ok=True)
        staged_manifest.write_text(manifest.dump(), encoding="utf-8")
        for staged, target in moves:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        for change in changes:
            if change.action is Action.DELETE:
                (root / change.path).unlink(missing_ok=True)
            if change.action in (Action.CREATE, Action.UPDATE, Action.UNCHANGED, Action.DELETE):
                (root / (change.path + SIDE_SUFFIX)).unlink(missing_ok=True)
        os.replace(staged_manifest, root / MANIFEST_PATH)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
