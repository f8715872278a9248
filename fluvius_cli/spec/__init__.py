"""The spec language: loading fluvius.yaml, its models, and the rules it must follow."""

from fluvius_cli.spec.diagnostics import Code, Diagnostic, Position, SpecError
from fluvius_cli.spec.loader import CheckResult, check_file, check_text, load_spec
from fluvius_cli.spec.model import Spec

__all__ = [
    "CheckResult",
    "Code",
    "Diagnostic",
    "Position",
    "Spec",
    "SpecError",
    "check_file",
    "check_text",
    "load_spec",
]
