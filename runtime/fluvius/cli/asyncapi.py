"""`fluvius asyncapi`: print the AsyncAPI 3.0 document of the service's streams."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fluvius.cli.common import ProjectOption, open_project


def asyncapi(project: ProjectOption = Path()) -> None:
    """Print the AsyncAPI 3.0 document of the service's streams (also served at /asyncapi.json)."""
    from fluvius.streams.asyncapi import asyncapi as document

    typer.echo(json.dumps(document(open_project(project).service()), indent=2))
