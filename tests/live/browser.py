"""Debian's Chromium for the browser tests: installed when missing and this is root with apt;
without it the test skips, or fails under CI (`CI=true`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]


def chromium() -> Path:
    """The path of Chromium, installing the Debian package when it can."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        for command in (INSTALL, ["apt-get", "update"], INSTALL):  # the lists may be stale
            subprocess.run(
                command,
                check=False,
                capture_output=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            if CHROMIUM.exists():
                break
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM} (apt-get install chromium, as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI requires it")
    pytest.skip(message)
