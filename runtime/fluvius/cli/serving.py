"""The app factory `fluvius run` serves: the project's app, in a process tuned for serving it.

Once the app is built, what it allocated is moved out of the garbage collector's sight
(`gc.freeze`: a server's modules, routes and models live as long as it does), and the youngest
generation is collected after GC_THRESHOLDS[0] new container objects instead of Python's 700.
A request allocates hundreds of them, so at the default the collector ran every request or two,
and took about a tenth of a server's CPU with a thousand WebSocket subscribers connected. Only
cyclic garbage waits longer for it, and there is little: reference counting frees the rest.
"""

from __future__ import annotations

import gc
import importlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

PACKAGE_VARIABLE = "FLUVIUS_PROJECT_PACKAGE"  # the served project's package, set by `fluvius run`
GC_THRESHOLDS = (10_000, 10, 10)


def create_app() -> FastAPI:
    """The app of the project `fluvius run` serves (`<package>.app:create_app`), with the
    process's garbage collection tuned for serving it."""
    module = importlib.import_module(f"{os.environ[PACKAGE_VARIABLE]}.app")
    application: FastAPI = module.create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return application
