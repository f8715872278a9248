"""Diagnostics as text, JSON or SARIF 2.1.0."""

from __future__ import annotations

import json
from typing import Any

from fluvius_cli.spec.diagnostics import Code, Diagnostic

FORMATS = ("text", "json", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(file: str, diagnostics: list[Diagnostic], output_format: str, version: str) -> str:
    """Render `diagnostics` of `file` in one of FORMATS."""
    if output_format == "json":
        return json.dumps([_as_json(file, d) for d in diagnostics], indent=2)
    if output_format == "sarif":
        return json.dumps(_sarif(file, diagnostics, version), indent=2)
    return "\n".join(as_text(file, d) for d in diagnostics)


def as_text(file: str, diagnostic: Diagnostic) -> str:
    """`path:line:col: CODE message`."""
    where = diagnostic.position
    return f"{file}:{where.line}:{where.column}: {diagnostic.code.number} {diagnostic.text}"


def _as_json(file: str, diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "file": file,
        "line": diagnostic.position.line,
        "column": diagnostic.position.column,
        "code": diagnostic.code.number,
        "name": diagnostic.code.slug,
        "message": diagnostic.message,
        "suggestion": diagnostic.suggestion,
    }


def _sarif(file: str, diagnostics: list[Diagnostic], version: str) -> dict[str, Any]:
    codes = list(Code)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fluvius",
                        "version": version,
                        "rules": [
                            {
                                "id": code.number,
                                "name": code.slug,
                                "shortDescription": {"text": code.summary},
                            }
                            for code in codes
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": d.code.number,
                        "ruleIndex": codes.index(d.code),
                        "level": "error",
                        "message": {"text": d.text},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": file},
                                    "region": {
                                        "startLine": d.position.line,
                                        "startColumn": d.position.column,
                                    },
                                }
                            }
                        ],
                    }
                    for d in diagnostics
                ],
            }
        ],
    }
