"""Many rows of a keyed table (a view's) in one statement: those of a set of keys, and an
upsert of a batch of rows, as a projector reads and writes the rows a batch of events changes.

On PostgreSQL the values travel as arrays (`= ANY(:keys)`, `INSERT ... SELECT FROM unnest(...)`):
one statement of the same text whatever the number of rows, prepared once, its values sent in
binary (JSON as text, cast back in the statement). SQLite takes `IN (...)` and an executemany
of `INSERT ... ON CONFLICT`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Text, and_, any_, bindparam, cast, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from sqlalchemy import Column, ColumnElement, Dialect, Table
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.types import TypeEngine


def among(column: Column[Any], values: Sequence[Any], dialect: str) -> ColumnElement[bool]:
    """`column` is one of `values`."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def matching(
    key: Column[Any],
    tenant: Column[Any] | None,
    identities: Iterable[tuple[Any, Any]],
    dialect: str,
) -> ColumnElement[bool]:
    """The rows of `identities`, (tenant, key) pairs: their keys, tenant by tenant when the
    table has a `tenant` column (without one, each pair's tenant is ignored)."""
    if tenant is None:
        return among(key, [value for _, value in identities], dialect)
    by_tenant: dict[Any, list[Any]] = {}
    for owner, value in identities:
        by_tenant.setdefault(owner, []).append(value)
    return or_(
        *(and_(tenant == owner, among(key, values, dialect)) for owner, values in by_tenant.items())
    )


class Upsert:
    """Writes rows of a table, each replacing the stored row of its primary key, if any."""

    def __init__(self, table: Table, dialect: str) -> None:
        self.table = table
        self.dialect = dialect
        self.names = [column.name for column in table.columns]
        self.statement = self._statement()
        self._processors: dict[str, Callable[[Any], Any]] | None = None

    async def write(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows`, or update those whose key is stored (a field a row lacks is null)."""
        if not rows:
            return
        if self.dialect != "postgresql":
            await connection.execute(self.statement, [_full(row, self.names) for row in rows])
            return
        processors = self._json_processors(connection.dialect)
        arrays = {}
        for name in self.names:
            values = [row.get(name) for row in rows]
            if (process := processors.get(name)) is not None:
                values = [process(value) for value in values]
            arrays[_array(name)] = values
        await connection.execute(self.statement, arrays)

    def _statement(self) -> Any:
        table = self.table
        statement: postgresql.Insert | sqlite.Insert
        if self.dialect == "postgresql":
            arrays = [
                cast(bindparam(_array(column.name)), postgresql.ARRAY(_carried(column)))
                for column in table.columns
            ]
            rows = func.unnest(*arrays).table_valued(*self.names).render_derived()
            values = [cast(rows.c[column.name], column.type) for column in table.columns]
            statement = postgresql.insert(table).from_select(self.names, select(*values))
        else:
            statement = sqlite.insert(table)
        keys = [column.name for column in table.primary_key.columns]
        others = [name for name in self.names if name not in keys]
        if not others:
            return statement.on_conflict_do_nothing(index_elements=keys)
        return statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in others}
        )

    def _json_processors(self, dialect: Dialect) -> dict[str, Callable[[Any], Any]]:
        """The JSON columns' bind processors (their values travel as text: the driver takes
        no array of JSON), by column."""
        if self._processors is None:
            self._processors = {}
            for column in self.table.columns:
                impl: TypeEngine[Any] = column.type.dialect_impl(dialect)
                if isinstance(column.type, JSON) and (process := impl.bind_processor(dialect)):
                    self._processors[column.name] = process
        return self._processors


def _carried(column: Column[Any]) -> TypeEngine[Any]:
    """The type in which the values of `column` travel: text for JSON, else its own."""
    return Text() if isinstance(column.type, JSON) else column.type


def _array(name: str) -> str:
    """The parameter holding the values of the column `name`."""
    return f"{name}_values"


def _full(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: row.get(name) for name in names}
