"""The rules of declared fields: names, the keys that suit each type, bounds, defaults, renames."""

from __future__ import annotations

import math
from collections.abc import Mapping

from fluvius.domain.files import content_type_problem, parse_size
from fluvius_cli.spec import names
from fluvius_cli.spec.diagnostics import Code
from fluvius_cli.spec.document import Path
from fluvius_cli.spec.model import NUMERIC_TYPES, TEXT_TYPES, FieldSpec
from fluvius_cli.spec.rules.checker import Checker
from fluvius_cli.spec.structure import describe
from fluvius_cli.spec.suggest import closest
from fluvius_cli.spec.values import shown, value_problem

UNINDEXED_TYPES = frozenset({"json", "file"})


def check_fields(
    checker: Checker, path: Path, fields: Mapping[str, FieldSpec], *, state: bool
) -> None:
    """The fields declared at `path`; `state` for the fields of an aggregate's state."""
    checker.names_unique(path, list(fields))
    for field_name, spec in fields.items():
        field_path = (*path, field_name)
        if checker.name_form(field_path, names.SNAKE, "snake_case"):
            checker.reserved(field_path, names.field_name_problem(field_name))
        _field(checker, field_path, spec, state=state, siblings=fields)


def _field(
    checker: Checker,
    path: Path,
    spec: FieldSpec,
    *,
    state: bool,
    siblings: Mapping[str, FieldSpec],
) -> None:
    kind = spec.type
    not_applicable = [
        (
            spec.max_length is not None and kind not in TEXT_TYPES,
            "max_length",
            "string and text",
        ),
        (
            any(b is not None for b in (spec.ge, spec.gt, spec.le, spec.lt))
            and kind not in NUMERIC_TYPES,
            next((k for k in ("ge", "gt", "le", "lt") if getattr(spec, k) is not None), "ge"),
            "numbers",
        ),
        (spec.values is not None and kind != "enum", "values", "enum"),
        (spec.to is not None and kind != "ref", "to", "ref"),
        (spec.index and not state, "index", "state fields"),
        (
            spec.index and kind in UNINDEXED_TYPES,
            "index",
            "fields of any type but json and file",
        ),
        (spec.max_size is not None and kind != "file", "max_size", "file"),
        (spec.content_types is not None and kind != "file", "content_types", "file"),
        (spec.has_default and kind == "file", "default", "fields of any type but file"),
        (spec.renamed_from is not None and not state, "renamed_from", "state fields"),
    ]
    for wrong, key, applies_to in not_applicable:
        if wrong:
            checker.report(
                (*path, key),
                Code.CONSTRAINT_NOT_APPLICABLE,
                f"`{key}` applies to {applies_to} only; {describe(path)} is {kind}",
                key=True,
            )
    if kind == "enum" and spec.values is None:
        checker.report(path, Code.MISSING_KEY, f"{describe(path)} is an enum and needs `values`")
    if spec.values is not None and len(set(spec.values)) != len(spec.values):
        checker.report((*path, "values"), Code.INVALID_VALUE, "enum values must be distinct")
    if kind == "ref":
        _ref_target(checker, path, spec)
    if kind == "file":
        _file_rule(checker, path, spec)
    _bounds(checker, path, spec)
    if spec.has_default and (problem := value_problem(spec, spec.default)):
        checker.report(
            (*path, "default"), Code.BAD_DEFAULT, f"default {shown(spec.default)} {problem}"
        )
    if spec.renamed_from is not None:
        _renamed(checker, path, spec.renamed_from, siblings)


def _file_rule(checker: Checker, path: Path, spec: FieldSpec) -> None:
    if spec.max_size is not None:
        try:
            parse_size(spec.max_size)
        except ValueError as error:
            checker.report((*path, "max_size"), Code.BAD_SIZE, str(error))
    for index, pattern in enumerate(spec.content_types or []):
        if problem := content_type_problem(pattern):
            checker.report((*path, "content_types", index), Code.BAD_CONTENT_TYPE, problem)


def _ref_target(checker: Checker, path: Path, spec: FieldSpec) -> None:
    if spec.to is None:
        checker.report(
            path,
            Code.MISSING_KEY,
            f"{describe(path)} is a ref and needs `to: domain.aggregate`",
        )
    elif not checker.aggregate_exists(spec.to):
        checker.report(
            (*path, "to"),
            Code.UNKNOWN_AGGREGATE,
            f"'{spec.to}' is not an aggregate (write domain.aggregate)",
            closest(spec.to, checker.qualified_aggregates()),
        )


def _bounds(checker: Checker, path: Path, spec: FieldSpec) -> None:
    if spec.ge is not None and spec.gt is not None:
        checker.report(
            (*path, "gt"), Code.CONTRADICTORY_BOUNDS, "use one of `ge` and `gt`, not both"
        )
    if spec.le is not None and spec.lt is not None:
        checker.report(
            (*path, "lt"), Code.CONTRADICTORY_BOUNDS, "use one of `le` and `lt`, not both"
        )
    low = spec.ge if spec.ge is not None else spec.gt
    high = spec.le if spec.le is not None else spec.lt
    strict = spec.gt is not None or spec.lt is not None
    if low is not None and high is not None and (low > high or (strict and low == high)):
        checker.report(
            path, Code.CONTRADICTORY_BOUNDS, f"no number is within the bounds {low} and {high}"
        )
    elif spec.type == "integer" and not _whole_number_fits(spec):
        checker.report(path, Code.CONTRADICTORY_BOUNDS, "no whole number is within these bounds")


def _whole_number_fits(spec: FieldSpec) -> bool:
    low = spec.ge if spec.ge is not None else spec.gt
    high = spec.le if spec.le is not None else spec.lt
    if low is None or high is None:
        return True
    smallest = math.ceil(low) if spec.ge is not None else math.floor(low) + 1
    largest = math.floor(high) if spec.le is not None else math.ceil(high) - 1
    return smallest <= largest


def _renamed(checker: Checker, path: Path, old: str, siblings: Mapping[str, FieldSpec]) -> None:
    if not names.SNAKE.fullmatch(old):
        checker.report(
            (*path, "renamed_from"),
            Code.BAD_NAME,
            "renamed_from must be a snake_case field name",
        )
    elif old in siblings:
        checker.report(
            (*path, "renamed_from"),
            Code.NAME_COLLISION,
            f"renamed_from '{old}' is still a field of this aggregate",
        )
