"""fluvius's rules on top of what alembic's autogenerate found.

- A field with `renamed_from` is renamed (its data kept), not dropped and added.
- A field that gains a default becomes NOT NULL only after its NULL rows get the default.
- A new NOT NULL column needs a default; a type change must not lose data: otherwise the
  change is refused, located in fluvius.yaml, before any revision or SQL exists.
Each change is described in words; the words make the revision's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alembic.operations.ops import (
    AddColumnOp,
    AlterColumnOp,
    CreateCheckConstraintOp,
    CreateIndexOp,
    CreateTableOp,
    DropColumnOp,
    DropConstraintOp,
    DropIndexOp,
    DropTableOp,
    ExecuteSQLOp,
    MigrateOperation,
    ModifyTableOps,
    UpgradeOps,
)
from sqlalchemy import BigInteger, Enum, Float, Integer, Numeric, String, Text, types

from fluvius.data.tables import CHECKPOINT_TABLE, DEAD_LETTER_TABLE, JOB_TABLE, PROJECTION_TABLE
from fluvius_cli.spec.diagnostics import START, Code, Diagnostic, SpecError
from fluvius_cli.spec.document import Document
from fluvius_cli.spec.model import FieldSpec, Spec

RUNTIME_TABLES = frozenset((CHECKPOINT_TABLE, DEAD_LETTER_TABLE, JOB_TABLE, PROJECTION_TABLE))


@dataclass(frozen=True)
class _Aggregate:
    qualified: str
    path: tuple[str, ...]
    fields: dict[str, FieldSpec]


class SchemaRules:
    """Rewrites and describes the operations of a revision for one spec."""

    def __init__(self, spec: Spec, document: Callable[[], Document | None], file: str) -> None:
        self._document = document  # read only to locate a refusal: most revisions have none
        self.file = file
        self.aggregates = {
            f"{domain_name}_{name}": _Aggregate(
                f"{domain_name}.{name}",
                ("domains", domain_name, "aggregates", name),
                aggregate.fields,
            )
            for domain_name, domain in spec.domains.items()
            for name, aggregate in domain.aggregates.items()
        }
        self.views = {
            f"{domain_name}_{name}": f"{domain_name}.{name}"
            for domain_name, domain in spec.domains.items()
            for name in domain.views
        }
        self.logs = {
            f"{domain}_{kind}": domain for domain in spec.domains for kind in ("event", "command")
        }
        self.problems: list[Diagnostic] = []

    def rewrite(self, upgrade: UpgradeOps) -> tuple[list[str], list[MigrateOperation]]:
        """Describe and rewrite `upgrade` in place; return the descriptions and the statements
        to run before it (backfills). Refuses unsafe changes with SpecError."""
        changes: list[str] = []
        before: list[MigrateOperation] = []
        for operation in upgrade.ops:
            if isinstance(operation, ModifyTableOps):
                changes += self._modify(operation, before)
            else:
                changes += self._describe_table(operation)
        if self.problems:
            raise SpecError(self.file, self.problems)
        return list(dict.fromkeys(changes)), before

    def _describe_table(self, operation: MigrateOperation) -> list[str]:
        if isinstance(operation, CreateTableOp | DropTableOp):
            verb = "add" if isinstance(operation, CreateTableOp) else "remove"
            table = operation.table_name
            if table in self.logs:
                return [f"{verb} domain {self.logs[table]}"]
            if table in RUNTIME_TABLES:
                return [f"{verb} the fluvius tables"]
            if table in self.views:
                return [f"{verb} view {self.views[table]}"]
            owner = self.aggregates.get(table)
            return [f"{verb} aggregate {owner.qualified if owner else table}"]
        if isinstance(operation, CreateIndexOp | DropIndexOp):
            return [self._index(operation)]
        return []

    def _modify(self, table_ops: ModifyTableOps, before: list[MigrateOperation]) -> list[str]:
        owner = self.aggregates.get(table_ops.table_name)
        name = owner.qualified if owner else table_ops.table_name
        if owner is not None:
            self._renames(table_ops, owner)
        _without_checks_of_new_columns(table_ops)
        changes = []
        for operation in table_ops.ops:
            if isinstance(operation, AddColumnOp):
                changes.append(f"add field {name}.{operation.column.name}")
                self._check_new_column(owner, operation)
            elif isinstance(operation, DropColumnOp):
                changes.append(f"remove field {name}.{operation.column_name}")
            elif isinstance(operation, AlterColumnOp):
                changes += self._alter(name, owner, operation, before)
            elif isinstance(operation, CreateIndexOp | DropIndexOp):
                changes.append(self._index(operation))
            elif isinstance(operation, CreateCheckConstraintOp):
                changes.append(f"change the values of {name}.{_checked_column(operation)}")
            elif isinstance(operation, DropConstraintOp):
                continue  # replaced by the CreateCheckConstraintOp next to it
        return changes

    def _renames(self, table_ops: ModifyTableOps, owner: _Aggregate) -> None:
        """Turn `drop old` + `add new` into `rename old to new` where the spec says so."""
        dropped = {op.column_name: op for op in table_ops.ops if isinstance(op, DropColumnOp)}
        for index, operation in enumerate(table_ops.ops):
            if not isinstance(operation, AddColumnOp):
                continue
            spec = owner.fields.get(operation.column.name)
            old = spec.renamed_from if spec is not None else None
            if old is None or old not in dropped:
                continue
            table_ops.ops[index] = AlterColumnOp(
                table_ops.table_name,
                old,
                modify_name=operation.column.name,
                existing_type=operation.column.type,
                existing_nullable=operation.column.nullable,
            )
            table_ops.ops.remove(dropped[old])

    def _check_new_column(self, owner: _Aggregate | None, operation: AddColumnOp) -> None:
        column = operation.column
        if column.nullable or column.server_default is not None or owner is None:
            return
        self._refuse(
            owner,
            column.name,
            f"field {owner.qualified}.{column.name} is added to a table that may hold rows: "
            "give it a default, or let it be empty",
        )

    def _alter(
        self,
        name: str,
        owner: _Aggregate | None,
        operation: AlterColumnOp,
        before: list[MigrateOperation],
    ) -> list[str]:
        column = operation.column_name
        changes = []
        if operation.modify_name is not None:
            changes.append(f"rename field {name}.{column} to {operation.modify_name}")
            column = operation.modify_name
        if operation.modify_type is not None:
            _without_enum_constraints(operation)
            old, new = operation.existing_type, operation.modify_type
            if not _widens(old, new) and owner is not None:
                self._refuse(
                    owner,
                    column,
                    f"field {name}.{column} would change from {_type_name(old)} to "
                    f"{_type_name(new)}, which can lose data; add a new field instead, and "
                    "fill it from events (then replay)",
                )
            changes.append(f"change the type of {name}.{column}")
        if operation.modify_nullable is False and owner is not None:
            spec = owner.fields.get(column)
            if spec is not None and spec.has_default and spec.default is not None:
                before.append(ExecuteSQLOp(_backfill(operation.table_name, column, spec)))
            changes.append(f"make {name}.{column} required")
        return changes

    def _index(self, operation: CreateIndexOp | DropIndexOp) -> str:
        table = operation.table_name or ""
        owner = self.aggregates.get(table)
        columns = ", ".join(_index_columns(operation))
        verb = "index" if isinstance(operation, CreateIndexOp) else "drop the index of"
        return f"{verb} {owner.qualified if owner else table}.{columns}"

    def _refuse(self, owner: _Aggregate, field: str, message: str) -> None:
        path = (*owner.path, "fields", field)
        document = self._document()
        where = document.key_at(path) if document is not None else START
        self.problems.append(Diagnostic(where, Code.UNSAFE_MIGRATION, message))


def _checked_column(operation: CreateCheckConstraintOp) -> str:
    """The column an enum's CHECK constraint is about (`column IN (...)`)."""
    return str(operation.condition).split(" ", 1)[0]


def _without_checks_of_new_columns(table_ops: ModifyTableOps) -> None:
    """Drop the enum CHECK constraints of added columns: the column's type adds its own."""
    added = {op.column.name for op in table_ops.ops if isinstance(op, AddColumnOp)}
    table_ops.ops = [
        op
        for op in table_ops.ops
        if not (isinstance(op, CreateCheckConstraintOp) and _checked_column(op) in added)
    ]


def _index_columns(operation: CreateIndexOp | DropIndexOp) -> list[str]:
    columns: list[Any] = getattr(operation, "columns", None) or []
    if columns:
        return [getattr(column, "name", str(column)) for column in columns]
    name = str(operation.index_name or "")
    return [name.rsplit("_", 1)[-1]] if name else []


def _backfill(table: str, column: str, spec: FieldSpec) -> str:
    """The statement giving the rows where `column` is NULL the field's default."""
    return f"UPDATE {table} SET {column} = {_sql_literal(spec)} WHERE {column} IS NULL"


def _sql_literal(spec: FieldSpec) -> str:
    value = spec.default
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if spec.type in ("integer", "decimal", "float") and not isinstance(value, str):
        return str(value)
    text = json.dumps(value) if spec.type == "json" else str(value)
    return "'" + text.replace("'", "''") + "'"


def _widens(old: types.TypeEngine[Any] | None, new: types.TypeEngine[Any]) -> bool:
    """Whether every value of `old` fits `new` unchanged."""
    if old is None:
        return False
    old, new = _unwrap(old), _unwrap(new)
    if isinstance(new, Enum):
        return isinstance(old, Enum | String) and not isinstance(old, Text)
    if isinstance(old, Enum):
        return isinstance(new, Text) or (
            isinstance(new, String) and (new.length or 0) >= max(map(len, old.enums), default=0)
        )
    if isinstance(old, Text) or isinstance(new, Text):
        return isinstance(new, Text) and isinstance(old, String)
    if isinstance(old, String) and isinstance(new, String):
        return new.length is None or (old.length is not None and new.length >= old.length)
    if (
        isinstance(old, Integer | BigInteger)
        and isinstance(new, Numeric)
        and not isinstance(new, Float)
    ):
        return True
    if isinstance(old, Integer) and isinstance(new, BigInteger):
        return True
    if isinstance(old, Float) and isinstance(new, Numeric) and not isinstance(new, Float):
        return True
    return type(old) is type(new)


def _unwrap(kind: types.TypeEngine[Any]) -> types.TypeEngine[Any]:
    """The database type under fluvius's decorators (Money is NUMERIC, UtcDateTime DATETIME)."""
    while isinstance(kind, types.TypeDecorator):
        kind = kind.impl_instance
    return kind


def _type_name(kind: types.TypeEngine[Any] | None) -> str:
    return "an unknown type" if kind is None else repr(kind)


def _without_enum_constraints(operation: AlterColumnOp) -> None:
    """Alter enum columns as the VARCHARs they are: their CHECK constraints are managed apart
    (fluvius.migrations.comparators), and alembic would otherwise add one more."""
    for attribute in ("existing_type", "modify_type"):
        kind = getattr(operation, attribute)
        if isinstance(kind, Enum) and not kind.native_enum:
            setattr(operation, attribute, String(length=kind.length))
