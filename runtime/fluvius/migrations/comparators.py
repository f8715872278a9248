"""What alembic's autogenerate does not compare, compared: the values of enum columns.

Enum fields are VARCHAR columns with a named CHECK constraint (the same on SQLite and
PostgreSQL). When the spec adds or removes a value, the constraint is dropped and created anew.
"""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import comparators
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import CreateCheckConstraintOp, DropConstraintOp, ModifyTableOps
from sqlalchemy import Enum, Table
from sqlalchemy.sql.elements import conv

_QUOTED = re.compile(r"'((?:[^']|'')*)'")


def enum_check_name(table: Table, column_name: str, enum: Enum) -> str:
    """The name the naming convention gives an enum column's CHECK constraint."""
    return f"ck_{table.name}_{enum.name or column_name}"


def enum_condition(column_name: str, values: list[str]) -> str:
    """The CHECK condition allowing exactly `values` in `column_name`."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column_name} IN ({quoted})"


@comparators.dispatch_for("table")
def compare_enum_values(
    autogen_context: AutogenContext,
    modify_ops: ModifyTableOps,
    schema: str | None,
    table_name: str,
    connection_table: Table | None,
    metadata_table: Table | None,
) -> None:
    """Replace the CHECK constraint of every enum column whose values changed."""
    if connection_table is None or metadata_table is None or autogen_context.inspector is None:
        return
    reflected: dict[str, Any] = {
        name: check["sqltext"]
        for check in autogen_context.inspector.get_check_constraints(table_name, schema=schema)
        if (name := check.get("name")) is not None
    }
    for column in metadata_table.columns:
        enum = column.type
        if not isinstance(enum, Enum) or enum.native_enum:
            continue
        name = enum_check_name(metadata_table, column.name, enum)
        existing = reflected.get(name)
        wanted = list(enum.enums)
        if existing is not None and _values(existing) == set(wanted):
            continue
        if existing is not None:
            modify_ops.ops.append(
                DropConstraintOp(
                    conv(name),
                    table_name,
                    type_="check",
                    schema=schema,
                    _reverse=CreateCheckConstraintOp(
                        conv(name), table_name, existing, schema=schema
                    ),
                )
            )
        modify_ops.ops.append(
            CreateCheckConstraintOp(
                conv(name), table_name, enum_condition(column.name, wanted), schema=schema
            )
        )


def _values(sql: str) -> set[str]:
    return {value.replace("''", "'") for value in _QUOTED.findall(sql)}
