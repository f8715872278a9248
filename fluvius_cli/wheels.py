"""The wheels a service's image installs: the service, the runtime, and every dependency.

`pip wheel` writes them into the project's `wheels/` folder, the Dockerfile's build context,
so that the image builds with `pip install --no-index`. Wheels of compiled dependencies are
those of the Python and platform that run this.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path
from urllib.parse import unquote, urlparse

WHEELS = "wheels"
RUNTIME = "fluvius"


class BuildFailed(RuntimeError):
    """pip could not build or fetch a wheel; the message holds pip's last words."""


def runtime_requirement() -> str:
    """How pip gets the runtime this command runs on: the folder or wheel it was installed
    from when that is still there, else its release on the package index."""
    runtime = distribution(RUNTIME)
    direct = runtime.read_text("direct_url.json")
    if direct:
        url = urlparse(json.loads(direct).get("url", ""))
        source = Path(unquote(url.path))
        if url.scheme == "file" and source.exists():
            return str(source)
    return f"{RUNTIME}=={runtime.version}"


def build_wheels(root: Path) -> list[Path]:
    """Replace the wheels of `root`/wheels with those of the service and all it depends on."""
    target = root / WHEELS
    target.mkdir(exist_ok=True)
    for old in target.glob("*.whl"):
        old.unlink()
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    command += ["--wheel-dir", str(target), str(root), runtime_requirement()]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        said = completed.stderr.strip().splitlines()[-5:] or [f"exit {completed.returncode}"]
        raise BuildFailed("pip wheel failed: " + "\n".join(said))
    return sorted(target.glob("*.whl"))
