"""Located diagnostics: every problem found in a spec, with a stable code."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Code(enum.Enum):
    """Stable error codes. The number never changes meaning; the slug names it for humans."""

    # The file and its YAML.
    FILE_NOT_FOUND = ("FV001", "file-not-found", "The spec file cannot be read.")
    NOT_UTF8 = ("FV002", "not-utf8", "The file is not UTF-8 text.")
    YAML_SYNTAX = ("FV003", "yaml-syntax", "The file is not valid YAML.")
    DUPLICATE_KEY = ("FV004", "duplicate-key", "A mapping repeats a key.")
    TOO_LARGE = ("FV005", "too-large", "The file, its nesting or its alias expansion is too big.")
    EMPTY = ("FV006", "empty", "The file holds no spec.")
    UNSUPPORTED_YAML = (
        "FV007",
        "unsupported-yaml",
        "A YAML tag or key form the spec does not use.",
    )
    # The shape of the spec.
    UNKNOWN_KEY = ("FV101", "unknown-key", "A key the spec format does not define.")
    MISSING_KEY = ("FV102", "missing-key", "A required key is absent.")
    WRONG_TYPE = ("FV103", "wrong-type", "A value of the wrong kind (text, number, list, mapping).")
    INVALID_VALUE = ("FV104", "invalid-value", "A value outside what the key accepts.")
    UNKNOWN_FIELD_TYPE = ("FV105", "unknown-field-type", "A field type that does not exist.")
    SPEC_VERSION = ("FV106", "spec-version", "The `fluvius:` format version is not supported.")
    CONSTRAINT_NOT_APPLICABLE = (
        "FV107",
        "constraint-not-applicable",
        "A constraint that the field's type cannot carry.",
    )
    BAD_DEFAULT = ("FV108", "bad-default", "A default value that its field would reject.")
    CONTRADICTORY_BOUNDS = ("FV109", "contradictory-bounds", "Bounds that no value can satisfy.")
    BAD_SIZE = ("FV110", "bad-size", "A file's `max_size` that is not a positive size.")
    BAD_CONTENT_TYPE = (
        "FV111",
        "bad-content-type",
        "A file's content type that is not `type/subtype` or `type/*`.",
    )
    # Names.
    BAD_NAME = ("FV201", "bad-name", "A name not in the required case (kebab-case, snake_case).")
    RESERVED_NAME = ("FV202", "reserved-name", "A Python or SQL keyword, or a name fluvius uses.")
    NAME_COLLISION = ("FV203", "name-collision", "Two names that become the same identifier.")
    # References between parts of the spec.
    UNKNOWN_EVENT = ("FV301", "unknown-event", "A reference to an event that is not declared.")
    UNKNOWN_STATE_FIELD = (
        "FV302",
        "unknown-state-field",
        "A reference to a state field that is not declared.",
    )
    UNKNOWN_EVENT_FIELD = (
        "FV303",
        "unknown-event-field",
        "A `$field` that the event does not carry.",
    )
    TYPE_MISMATCH = (
        "FV304",
        "type-mismatch",
        "A value or reference of a type its target cannot hold.",
    )
    UNKNOWN_COMMAND = (
        "FV305",
        "unknown-command",
        "A policy allows a command that is not declared.",
    )
    UNKNOWN_AGGREGATE = (
        "FV306",
        "unknown-aggregate",
        "A `ref` to an aggregate that is not declared.",
    )
    AMBIGUOUS_EVENT = (
        "FV307",
        "ambiguous-event",
        "A worker's or stream's event name matches several aggregates.",
    )
    BAD_CRON = ("FV308", "bad-cron", "A cron expression that is not a valid 5-field schedule.")
    WORKER_TRIGGER = ("FV309", "worker-trigger", "A worker needs exactly one of `on` and `cron`.")
    NO_EVENTS_EMITTED = ("FV310", "no-events-emitted", "A command that emits no event.")
    UNSOURCED_EVENT_FIELD = (
        "FV311",
        "unsourced-event-field",
        "An event field that neither the command nor a default fills.",
    )
    NO_CREATE_COMMAND = ("FV312", "no-create-command", "An aggregate that no command can create.")
    GUARD_ON_CREATE = ("FV313", "guard-on-create", "A creating command with `requires` guards.")
    NOT_NUMERIC = ("FV314", "not-numeric", "`add` or `subtract` on a field that is not a number.")
    BAD_SCOPE = ("FV315", "bad-scope", "A policy scope on a field that cannot hold a user id.")
    BAD_COMPARISON = (
        "FV316",
        "bad-comparison",
        "A guard comparison its field's type does not support, or with the wrong operands.",
    )
    INCOMPARABLE = (
        "FV317",
        "incomparable",
        "A guard comparing a field with a field of a type it cannot be compared with.",
    )
    UNKNOWN_COMMAND_FIELD = (
        "FV318",
        "unknown-command-field",
        "A `$field` in `requires` that the command does not carry.",
    )
    UNKNOWN_METADATA = (
        "FV319",
        "unknown-metadata",
        "An `@name` in a view's rule that is not event metadata.",
    )
    BAD_VIEW_KEY = (
        "FV320",
        "bad-view-key",
        "A view's key that is not one of its fields, or a rule's key its key field cannot hold.",
    )
    # Changes that the database cannot take safely.
    UNSAFE_MIGRATION = (
        "FV401",
        "unsafe-migration",
        "A schema change that could lose data, refused before any SQL runs.",
    )
    UNWRITTEN_UPCASTER = (
        "FV402",
        "unwritten-upcaster",
        "An event changed in a way its stored events cannot follow without an upcaster.",
    )
    # The project's Python code.
    MISNAMED_METHOD = (
        "FV501",
        "misnamed-method",
        "A method of a user's aggregate class that looks like a handler, apply method or "
        "upcaster but matches none.",
    )

    def __init__(self, number: str, slug: str, summary: str) -> None:
        self.number = number
        self.slug = slug
        self.summary = summary


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in the spec file."""

    line: int
    column: int


START = Position(1, 1)


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec: where, which code, and what to do about it."""

    position: Position
    code: Code
    message: str
    suggestion: str | None = None

    @property
    def text(self) -> str:
        """The message, with its "did you mean" when there is one."""
        if self.suggestion is None:
            return self.message
        return f"{self.message}; did you mean '{self.suggestion}'?"

    def sort_key(self) -> tuple[int, int, str, str]:
        return (self.position.line, self.position.column, self.code.number, self.message)


class SpecError(Exception):
    """Raised when a spec has errors; carries all of them, sorted by position."""

    def __init__(self, file: str, diagnostics: list[Diagnostic]) -> None:
        self.file = file
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        first = self.diagnostics[0]
        super().__init__(
            f"{file}:{first.position.line}:{first.position.column}: "
            f"{first.code.number} {first.text}"
            + (f" (and {len(self.diagnostics) - 1} more)" if len(self.diagnostics) > 1 else "")
        )
