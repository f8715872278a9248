"""Validate a document against the spec models and turn pydantic's errors into diagnostics."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from fluvius_cli.spec.diagnostics import Code, Diagnostic
from fluvius_cli.spec.document import Document, Path
from fluvius_cli.spec.model import EXTENSION_PREFIX, FIELD_TYPES, DomainSpec, Spec
from fluvius_cli.spec.suggest import closest
from fluvius_cli.spec.values import shown

# Keys whose values are mappings of user-chosen names to declarations.
COLLECTIONS = frozenset(
    {
        "domains",
        "aggregates",
        "fields",
        "commands",
        "events",
        "policies",
        "workers",
        "streams",
        "views",
        "from",
    }
)

_KINDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "none_required": "null",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "scalar_type": "a single value",
    "int_from_float": "a whole number",
    "field_type": "a type name, or a mapping with a `type`",
    "one_or_many_type": "a value or a list of values",
}
_CONSTRAINTS = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "finite_number": "must be a finite number",
}


@functools.cache
def _domains_adapter() -> TypeAdapter[dict[str, DomainSpec]]:
    return TypeAdapter(dict[str, DomainSpec])


@dataclass
class StructureResult:
    """The validated spec when the shape is right; otherwise whatever domains still validate."""

    spec: Spec | None
    domains: dict[str, DomainSpec] | None
    diagnostics: list[Diagnostic]
    dropped: set[Path] = field(default_factory=set)


def validate_structure(document: Document) -> StructureResult:
    """Check the document's shape; keep the valid domains for the reference checks."""
    data = {
        key: value for key, value in document.data.items() if not key.startswith(EXTENSION_PREFIX)
    }
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        errors = _clean(exc.errors(), data)
    else:
        return StructureResult(spec, spec.domains, [])
    diagnostics = [_diagnose(error, loc, document) for loc, error in errors]
    domains, dropped = _salvage_domains(data, errors)
    return StructureResult(None, domains, diagnostics, dropped)


def _clean(errors: list[ErrorDetails], data: Any) -> list[tuple[Path, ErrorDetails]]:
    """Drop union and validator tags from locations; merge errors that land on one path."""
    merged: dict[Path, ErrorDetails] = {}
    for error in errors:
        loc = _document_loc(error, data)
        if loc in merged:
            kept = merged[loc]
            if kept["type"] in _KINDS and error["type"] in _KINDS:
                kinds = kept.get("ctx", {}).get("kinds", [_KINDS[kept["type"]]])
                kinds = [*kinds, _KINDS[error["type"]]]
                if "a number" in kinds:  # a whole number is a number
                    kinds = [kind for kind in kinds if kind != "a whole number"]
                kept["ctx"] = {"kinds": kinds}
            continue
        merged[loc] = error
    return list(merged.items())


def _document_loc(error: ErrorDetails, data: Any) -> Path:
    """The part of pydantic's location that names real places in the document."""
    loc = error["loc"]
    path: list[str | int] = []
    node = data
    for index, step in enumerate(loc):
        if _has_child(node, step):
            node = node[step]
        elif index < len(loc) - 1 or error["type"] not in {"missing", "extra_forbidden"}:
            continue  # a union member or validator tag, not a place in the document
        path.append(step)
    return tuple(path)


def _has_child(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and step < len(node)


def _diagnose(error: ErrorDetails, loc: Path, document: Document) -> Diagnostic:
    kind = error["type"]
    where = describe(loc[:-1]) if loc else "the spec"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        return Diagnostic(
            document.key_at(loc),
            Code.UNKNOWN_KEY,
            f"unknown key '{key}' in {where}; allowed: {', '.join(allowed)}",
            closest(key, allowed),
        )
    if kind == "missing":
        return Diagnostic(
            document.value_at(loc[:-1]),
            Code.MISSING_KEY,
            f"{where} needs the key '{loc[-1]}'",
        )
    position = document.value_at(loc)
    if loc == ("fluvius",):
        return Diagnostic(
            position,
            Code.SPEC_VERSION,
            f"spec format {shown(error['input'])} is not supported; "
            "this fluvius reads `fluvius: 1`",
        )
    if kind == "literal_error" and error["loc"][-1] == "type":
        value = str(error["input"])
        return Diagnostic(
            position,
            Code.UNKNOWN_FIELD_TYPE,
            f"unknown field type '{value}'; types: {', '.join(FIELD_TYPES)}",
            closest(value, FIELD_TYPES),
        )
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return Diagnostic(position, Code.INVALID_VALUE, f"{_subject(loc)} must be {expected}")
    if kind in _KINDS:
        kinds = error.get("ctx", {}).get("kinds", [_KINDS[kind]])
        expected = " or ".join(dict.fromkeys(kinds))
        return Diagnostic(
            position,
            Code.WRONG_TYPE,
            f"{_subject(loc)} must be {expected}, not {_kind_of(error['input'])}",
        )
    if kind in _CONSTRAINTS:
        wording = _CONSTRAINTS[kind].format(**error.get("ctx", {}))
        return Diagnostic(position, Code.INVALID_VALUE, f"{_subject(loc)} {wording}")
    return Diagnostic(
        position, Code.INVALID_VALUE, f"{_subject(loc)}: {_lower_first(error['msg'])}"
    )


def _subject(loc: Path) -> str:
    if not loc:
        return "the spec"
    if isinstance(loc[-1], int):
        return f"item {loc[-1] + 1} of {_subject(loc[:-1])}"
    if len(loc) >= 2 and loc[-2] in COLLECTIONS:
        return describe(loc)
    return f"'{loc[-1]}' of {describe(loc[:-1])}" if len(loc) > 1 else f"'{loc[-1]}'"


def describe(path: Path) -> str:
    """A human name for the spec part at `path`: "command 'deposit' of banking.account"."""
    names: dict[str, str] = {}
    owner = "the spec"
    for i in range(0, len(path) - 1):
        collection, name = path[i], path[i + 1]
        if collection not in COLLECTIONS or not isinstance(name, str):
            continue
        names[str(collection)] = name
        domain = names.get("domains", "")
        if collection == "views":
            names.pop("aggregates", None)
        owner_name = names.get("aggregates", names.get("views"))
        aggregate = f"{domain}.{owner_name}" if owner_name is not None else domain
        owner = {
            "domains": f"domain '{name}'",
            "aggregates": f"aggregate '{aggregate}'",
            "commands": f"command '{name}' of {aggregate}",
            "events": f"event '{name}' of {aggregate}",
            "policies": f"policy '{name}' of {aggregate}",
            "workers": f"worker '{name}' of {domain}",
            "streams": f"stream '{name}'",
            "views": f"view '{aggregate}'",
            "from": f"the rule for '{name}' of view '{aggregate}'",
            "fields": f"field '{name}' of {owner}",
        }[str(collection)]
    if path and path[0] == "project":
        return "project"
    return owner


def _allowed_keys(path: Path) -> list[str]:
    model = _model_at(path)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_named(model: type[BaseModel], key: str) -> FieldInfo | None:
    """The model's field that the document's `key` fills (by its alias, when it has one)."""
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _model_at(path: Path) -> type[BaseModel] | None:
    """The spec model that validates the mapping at `path`."""
    current: Any = Spec
    for step in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = _field_named(current, str(step))
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            annotation = members[0]
        else:
            return annotation


def _salvage_domains(
    data: Any, errors: list[tuple[Path, ErrorDetails]]
) -> tuple[dict[str, DomainSpec] | None, set[Path]]:
    """Remove what holds errors and validate what is left of `domains`.

    An unknown key is removed alone; any other error removes the declaration (field, command,
    event, ...) that holds it, and that declaration is returned as dropped.
    """
    if not isinstance(data, dict) or not isinstance(data.get("domains"), dict):
        return None, set()
    unknown_keys = {loc for loc, error in errors if error["type"] == "extra_forbidden"}
    dropped = {
        entry
        for loc, error in errors
        if error["type"] != "extra_forbidden" and (entry := _entry_of(loc)) is not None
    }
    dropped |= {misspelt for loc in unknown_keys if (misspelt := _meant(loc, data)) is not None}
    domains = copy.deepcopy(data["domains"])
    for entry in sorted(dropped | unknown_keys, key=len, reverse=True):
        container: Any = {"domains": domains}
        for step in entry[:-1]:
            container = container.get(step) if isinstance(container, dict) else None
        if isinstance(container, dict):
            container.pop(entry[-1], None)
    try:
        return _domains_adapter().validate_python(domains), dropped
    except ValidationError:
        return None, dropped


def _meant(unknown: Path, data: Any) -> Path | None:
    """The key an unknown key stands for, when that key is absent: `event:` for `events:`."""
    suggestion = closest(str(unknown[-1]), _allowed_keys(unknown[:-1]))
    if suggestion is None:
        return None
    parent: Any = data
    for step in unknown[:-1]:
        parent = parent.get(step) if isinstance(parent, dict) else None
    if isinstance(parent, dict) and suggestion not in parent:
        return (*unknown[:-1], suggestion)
    return None


def _entry_of(path: Path) -> Path | None:
    """The innermost named declaration (domain, aggregate, field, ...) that contains `path`."""
    if not path or path[0] != "domains":
        return None
    for end in range(len(path), 1, -1):
        if path[end - 2] in COLLECTIONS and isinstance(path[end - 1], str):
            return path[:end]
    return None


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
