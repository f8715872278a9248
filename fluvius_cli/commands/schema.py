"""`fluvius schema`: print the JSON Schema of fluvius.yaml."""

from __future__ import annotations

import json

import typer

from fluvius_cli.spec.schema import spec_json_schema


def schema() -> None:
    """Print the JSON Schema (2020-12) of fluvius.yaml, for editors and yaml-language-server."""
    typer.echo(json.dumps(spec_json_schema(), indent=2))
