"""The JSON Schema (2020-12) of fluvius.yaml, for editors and yaml-language-server."""

from __future__ import annotations

from typing import Any

from fluvius_cli.spec.model import Spec

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_json_schema() -> dict[str, Any]:
    """The schema of the spec format, with every key described."""
    schema = Spec.model_json_schema(mode="validation")
    return {"$schema": DIALECT, **schema}
