"""Touches to the OpenAPI document FastAPI builds, so that it says exactly what the service takes.

Each one wraps `app.openapi`; the document is still built once, on first request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

Document = dict[str, Any]


def refine_openapi(app: FastAPI, refine: Callable[[Document], None]) -> None:
    """Apply `refine` to the document `app` serves, once, when it is built."""
    build = app.openapi

    def openapi() -> Document:
        if app.openapi_schema is None:
            document = build()
            refine(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def declare_component(app: FastAPI, name: str, schema: dict[str, Any]) -> None:
    """Put `schema` into the document's components as `name`, for references to it."""

    def add(document: Document) -> None:
        document.setdefault("components", {}).setdefault("schemas", {})[name] = schema

    refine_openapi(app, add)


def parameters_never_null(document: Document) -> None:
    """Drop the `null` FastAPI allows in optional parameters: an absent parameter is how a
    request says none, and the text "null" is no value of any parameter."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                branches = [b for b in schema.get("anyOf", []) if b != {"type": "null"}]
                if len(branches) == 1 and len(schema["anyOf"]) == 2:
                    del schema["anyOf"]
                    schema.update(branches[0])
