"""The spec format as pydantic models: strict, unknown keys refused, described for JSON Schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from fluvius.domain.rules import Change, Projection, Requirement, ViewRule
from fluvius_cli.spec import language
from fluvius_cli.spec.language import Located

FieldType = Literal[
    "string",
    "text",
    "integer",
    "decimal",
    "float",
    "boolean",
    "uuid",
    "date",
    "datetime",
    "enum",
    "json",
    "ref",
    "file",
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
NUMERIC_TYPES = frozenset({"integer", "decimal", "float"})
TEXT_TYPES = frozenset({"string", "text"})
READ_ACTION = "read"
EXTENSION_PREFIX = "x-"  # top-level keys for anchors and tools; never read
PUBLIC_ROLE = "public"


def _expand_field_shorthand(value: Any) -> Any:
    """`owner: string` means `owner: {type: string}`."""
    if isinstance(value, str):
        return {"type": value}
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "field_type", "a field is a type name, or a mapping with a `type` and constraints"
        )
    return value


def _one_or_many(value: Any) -> Any:
    """A single item stands for a list of one."""
    if isinstance(value, dict):
        raise PydanticCustomError("one_or_many_type", "expected a value or a list of values")
    return value if isinstance(value, list) else [value]


def _spec_version(value: Any) -> Any:
    if type(value) is not int:  # true and 1.0 equal 1 in Python, but are not the version
        raise PydanticCustomError("spec_version", "the spec format version is the number 1")
    return value


def _scalar(value: Any) -> Any:
    if isinstance(value, dict | list):
        raise PydanticCustomError("scalar_type", "expected a single value, not a list or mapping")
    return value


Scalar = Annotated[
    str | int | float | bool | None,
    BeforeValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "integer", "boolean", "null"]}),
]
"""A plain YAML value: text, a number, true/false or null."""


def _shape(value: Any) -> str:
    """Which form a guard or operand takes: a mapping, a list, or a single value."""
    return "mapping" if isinstance(value, dict) else "list" if isinstance(value, list) else "value"


Values = Annotated[list[Scalar], Field(min_length=1)]
StateOperand = Annotated[
    dict[Literal["field"], str],
    Field(min_length=1, description="`{field: name}`: another field of the state."),
]
GuardOperand = Annotated[
    Annotated[Scalar, Tag("value")]
    | Annotated[Values, Tag("list")]
    | Annotated[StateOperand, Tag("mapping")],
    Discriminator(_shape),
]
"""What a field is compared with: a literal, `$name` (the command's field), `{field: name}`
(another state field), or for `in` a list of literals."""

Comparisons = Annotated[
    dict[Literal["eq", "ne", "lt", "le", "gt", "ge", "in"], GuardOperand],
    Field(min_length=1),
]
Guard = Annotated[
    Annotated[Values, BeforeValidator(_one_or_many), Tag("list")]
    | Annotated[Comparisons, Tag("mapping")],
    Discriminator(lambda value: "mapping" if isinstance(value, dict) else "list"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": ["string", "number", "integer", "boolean", "null"]},
                {"type": "array", "minItems": 1},
                {"type": "object", "minProperties": 1},
            ]
        }
    ),
]
"""A guard on one state field: a value, a list of values (equal to one of them), or comparisons."""

Description = Annotated[str | None, Field(description="Free text shown in docs and OpenAPI.")]

Bound = Annotated[int | float | None, Field(allow_inf_nan=False)]


class SpecModel(BaseModel):
    """Base of every spec model: strict types, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FieldSpec(SpecModel):
    """A typed value: a state column, a command payload field or an event field."""

    type: FieldType = Field(description="The value's type.")
    description: Description = None
    max_length: int | None = Field(None, gt=0, description="string/text: most characters.")
    ge: Bound = Field(None, description="Numbers: greater than or equal to.")
    gt: Bound = Field(None, description="Numbers: greater than.")
    le: Bound = Field(None, description="Numbers: less than or equal to.")
    lt: Bound = Field(None, description="Numbers: less than.")
    default: Scalar = Field(None, description="Value used when none is given.")
    index: bool = Field(False, description="State fields: add a database index.")
    values: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, min_length=1, description="enum: the allowed values."
    )
    to: str | None = Field(None, description="ref: the target aggregate, as domain.aggregate.")
    max_size: int | str | None = Field(
        None, description="file: the most bytes, as a number or text such as 10MB."
    )
    content_types: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="file: the accepted content types; `image/*` accepts any image.",
    )
    renamed_from: str | None = Field(
        None, description="The field's previous name, so a migration renames instead of dropping."
    )

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


FieldDecl = Annotated[
    FieldSpec,
    BeforeValidator(_expand_field_shorthand, json_schema_input_type=FieldType | FieldSpec),
]
"""A field: a type name alone, or a mapping with a type and constraints."""

Fields = Annotated[dict[str, FieldDecl], Field(description="Fields by snake_case name.")]


class CommandSpec(SpecModel):
    """An intent sent to an aggregate; it emits events."""

    description: Description = None
    create: bool = Field(False, description="The command creates a new aggregate.")
    fields: Fields = {}
    requires: dict[str, Guard] = Field(
        {},
        description="Guards: state field -> required value, list of accepted values, or "
        "comparisons {eq, ne, lt, le, gt, ge, in} with a value, `$command_field` or "
        "`{field: state_field}`.",
    )
    emits: Annotated[
        list[str],
        BeforeValidator(_one_or_many, json_schema_input_type=str | list[str]),
    ] = Field(description="The event (or events) the command emits.")

    @property
    def guards(self) -> tuple[Located[Requirement], ...]:
        """`requires` read into the rule model."""
        return language.requirements(self.requires)


class ApplySpec(SpecModel):
    """How an event changes the state: `$field` reads the event, anything else is a literal."""

    set: dict[str, Scalar] = Field({}, description="state field -> new value.")
    add: dict[str, Scalar] = Field({}, description="Numeric state field -> amount added.")
    subtract: dict[str, Scalar] = Field({}, description="Numeric state field -> amount taken.")

    @property
    def rules(self) -> tuple[Located[Change], ...]:
        """The changes read into the rule model, each with its place in the event."""
        return language.changes({"set": self.set, "add": self.add, "subtract": self.subtract})

    @property
    def projection(self) -> Projection:
        return Projection(tuple(located.rule for located in self.rules))


class EventSpec(SpecModel):
    """A fact recorded in the event log."""

    description: Description = None
    fields: Fields = {}
    apply: ApplySpec = Field(ApplySpec(), description="The state projection of the event.")


class PolicySpec(SpecModel):
    """What a role may do on an aggregate."""

    allow: Annotated[
        list[str],
        Field(min_length=1),
        BeforeValidator(
            _one_or_many, json_schema_input_type=str | Annotated[list[str], Field(min_length=1)]
        ),
    ] = Field(description="Commands the role may send, and `read` for queries.")
    scope: str | None = Field(
        None, description="Limit the role to rows whose state field equals the caller's id."
    )


class AggregateSpec(SpecModel):
    """A consistency boundary: its state, the commands it accepts and the events it records."""

    description: Description = None
    fields: Fields = {}
    commands: dict[str, CommandSpec] = Field(description="Commands by kebab-case name.")
    events: dict[str, EventSpec] = Field({}, description="Events by kebab-case name.")
    policies: dict[str, PolicySpec] = Field({}, description="Policies by role.")


class WorkerSpec(SpecModel):
    """Background work: on an event, or on a cron schedule."""

    description: Description = None
    on: str | None = Field(
        None, description="The event that triggers it (event or aggregate.event)."
    )
    cron: str | None = Field(None, description="A 5-field cron schedule, in UTC.")
    retries: int = Field(3, ge=0, le=25, description="Attempts after the first failure.")


class ViewRuleSpec(SpecModel):
    """How one event changes a view's row: `$field` reads the event, `@name` its metadata."""

    key: Scalar = Field(
        description="The row the event changes: `$field`, `@aggregate_id` or a literal."
    )
    set: dict[str, Scalar] = Field({}, description="view field -> new value.")
    add: dict[str, Scalar] = Field({}, description="Numeric view field -> amount added.")
    subtract: dict[str, Scalar] = Field({}, description="Numeric view field -> amount taken.")
    delete: bool = Field(False, description="The event deletes the row.")

    def read(self) -> tuple[ViewRule, tuple[Located[Change], ...]]:
        """The rule in the rule model, with each change placed relative to the rule."""
        return language.view_rule(self.model_dump())


class ViewSpec(SpecModel):
    """A read model across aggregates: rows keyed by one field, fed by events."""

    description: Description = None
    key: str = Field(description="The field whose value keys a row.")
    fields: Annotated[dict[str, FieldDecl], Field(min_length=1)] = Field(
        description="The row's fields by snake_case name."
    )
    from_: Annotated[dict[str, ViewRuleSpec], Field(min_length=1)] = Field(
        alias="from",
        description="The events that feed it (event, aggregate.event or domain.event) and "
        "how each changes its row.",
    )
    policies: dict[str, PolicySpec] = Field({}, description="Who may read it, by role.")


class DomainSpec(SpecModel):
    """A bounded context: aggregates that share an event log, its workers and views."""

    description: Description = None
    aggregates: dict[str, AggregateSpec] = Field(description="Aggregates by snake_case name.")
    workers: dict[str, WorkerSpec] = Field({}, description="Workers by kebab-case name.")
    views: dict[str, ViewSpec] = Field({}, description="Views (read models) by snake_case name.")


class ProjectSpec(SpecModel):
    """The generated service."""

    name: str = Field(description="The service's Python package name (snake_case).")
    description: Description = None
    tenancy: bool = Field(
        False, description="Rows carry the token's tenant; every read and write stays in it."
    )


class StreamSpec(SpecModel):
    """A public stream: the events other systems may consume, published where settings say."""

    description: Description = None
    events: Annotated[list[str], Field(min_length=1)] = Field(
        description="The events it carries: domain.event (or domain.aggregate.event)."
    )


class Spec(SpecModel):
    """A fluvius domain spec (fluvius.yaml). Top-level keys starting with `x-` are ignored."""

    model_config = ConfigDict(
        title="fluvius.yaml",
        json_schema_extra={"patternProperties": {f"^{EXTENSION_PREFIX}": {}}},
    )

    fluvius: Annotated[Literal[1], BeforeValidator(_spec_version)] = Field(
        description="The spec format version: 1."
    )
    project: ProjectSpec
    domains: dict[str, DomainSpec] = Field(min_length=1, description="Domains by snake_case name.")
    streams: dict[str, StreamSpec] = Field(
        {},
        description="Public event streams by snake_case name; FLUVIUS_STREAM_<NAME>_URL says "
        "where each one goes.",
    )
