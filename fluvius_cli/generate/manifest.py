"""`.fluvius/manifest.json`: the hash of every file fluvius wrote, to tell edits from output."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from fluvius_cli import __version__

MANIFEST_PATH = ".fluvius/manifest.json"


def digest(content: str) -> str:
    """The sha256 of a file's text."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass
class Manifest:
    """The files fluvius generated, by path in the project, with the hash of what it wrote."""

    files: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> Manifest:
        """The project's manifest; empty when it has none (or an unreadable one)."""
        try:
            data = json.loads((root / MANIFEST_PATH).read_text(encoding="utf-8"))
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return cls()
        return cls({str(path): str(value) for path, value in files.items()})

    def written_by_fluvius(self, path: str, content: str) -> bool:
        """True when `content` is exactly what fluvius last wrote at `path`."""
        return self.files.get(path) == digest(content)

    def dump(self) -> str:
        return (
            json.dumps({"fluvius": __version__, "files": self.files}, indent=2, sort_keys=True)
            + "\n"
        )
