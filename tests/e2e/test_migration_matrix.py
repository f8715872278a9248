"""Every field type, with and without a default, through the revisions `fluvius migrate` writes.

One aggregate holds every combination from the first revision; the second revision adds them
all again, as new columns of that aggregate (which has a row by then) and as a new aggregate.
The revisions run on SQLite and PostgreSQL alike, pass ruff, and give the rows the defaults
the spec declares; on PostgreSQL the project's own tests run on the schema they build.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from fluvius.data import Database, storage_of
from fluvius.ids import uuid7
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, import_service, run_pytest
from tests.e2e.revisions import assert_revisions_clean
from tests.services import POSTGRES_URL, require_postgres

pytestmark = pytest.mark.slow

REF = "0b8e7c9a-1f2e-4d3c-9b8a-7f6e5d4c3b2a"


@dataclass(frozen=True)
class Kind:
    """A field type, a default for it (as YAML), the value that default reads back as, and the
    rest of its declaration."""

    type: str
    default: str
    value: Any
    extra: str = ""


KINDS = (
    Kind("string", '"it\'s"', "it's"),
    Kind("text", '"a longer text"', "a longer text"),
    Kind("integer", "-7", -7),
    Kind("decimal", '"12.50"', Decimal("12.50")),
    Kind("float", "1.5", 1.5),
    Kind("boolean", "true", True),
    Kind("uuid", f'"{REF}"', uuid.UUID(REF)),
    Kind("date", '"2024-05-01"', dt.date(2024, 5, 1)),
    Kind(
        "datetime",
        '"2024-05-01T10:20:30+00:00"',
        dt.datetime(2024, 5, 1, 10, 20, 30, tzinfo=dt.UTC),
    ),
    Kind("enum", "high", "high", ", values: [low, high]"),
    Kind("json", '"x"', "x"),
    Kind("ref", f'"{REF}"', uuid.UUID(REF), ", to: kinds.first"),
)


def _fields(prefix: str) -> str:
    """Each type three times: no default (nullable), `default: null`, a default (required)."""
    lines = []
    for kind in KINDS:
        name = f"{prefix}{kind.type}"
        lines += [
            f"          {name}_plain: {{type: {kind.type}{kind.extra}}}",
            f"          {name}_null: {{type: {kind.type}{kind.extra}, default: null}}",
            f"          {name}_set: {{type: {kind.type}{kind.extra}, default: {kind.default}}}",
        ]
    return "\n".join(lines)


def _aggregate(name: str, fields: str) -> str:
    return f"""      {name}:
        fields:
{fields}
        commands:
          make-{name}: {{create: true, emits: {name}-made}}
        events:
          {name}-made: {{}}
        policies:
          admin: {{allow: [make-{name}, read]}}
"""


SPEC = f"""fluvius: 1
project:
  name: matrix
domains:
  kinds:
    aggregates:
{_aggregate("first", _fields(""))}"""


@pytest.fixture
def matrix(projects: ProjectFactory, tmp_path: Path) -> Path:
    """The matrix project, new: its first revision written, not yet applied (`projects` keeps
    the skeleton's cache in the session)."""
    spec = tmp_path / "matrix.yaml"
    spec.write_text(SPEC)
    root = tmp_path / "matrix"
    fluvius("new", "project", "matrix", "--spec", str(spec), "--dir", str(root))
    return root


def test_every_field_type_is_created_and_added_on_both_databases(
    matrix: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUVIUS_DATABASE_URL", database_url)
    fluvius("migrate", cwd=matrix)
    existing = _insert_bare_row(matrix, database_url, "first")
    created = _expected("")
    assert _pick(_read(matrix, database_url, "first", existing), created) == created

    spec = matrix / "fluvius.yaml"
    spec.write_text(
        spec.read_text().replace(
            "        commands:\n", _fields("later_") + "\n        commands:\n", 1
        )
        + _aggregate("second", _fields(""))
    )
    fluvius("add", "field", "kinds.first", "flag", "boolean", "--default", "false", cwd=matrix)
    output = fluvius("migrate", cwd=matrix)
    assert "add field kinds.first.later_boolean_set" in output
    assert "add aggregate kinds.second" in output
    fluvius("migrate", "--check", cwd=matrix)

    added = {**_expected("later_"), "flag": False}
    assert _pick(_read(matrix, database_url, "first", existing), added) == added
    for column in ("enum_set", "later_enum_plain"):  # created and added enums check values
        with pytest.raises(IntegrityError):
            _set(matrix, database_url, existing, column, "mid")
    fresh = _insert_bare_row(matrix, database_url, "second")
    assert _pick(_read(matrix, database_url, "second", fresh), created) == created
    assert_revisions_clean(matrix, count=2)


@pytest.mark.postgres
def test_the_projects_own_tests_run_on_its_migrations_on_postgresql(matrix: Path) -> None:
    require_postgres()
    probe = matrix / "tests" / "test_schema_origin.py"
    probe.write_text(SCHEMA_ORIGIN)
    tests = run_pytest(matrix, env={"FLUVIUS_TEST_DATABASE_URL": POSTGRES_URL})
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout


SCHEMA_ORIGIN = '''"""The test database was built by the project's migrations."""

from sqlalchemy import text

from fluvius.data import Database


async def test_the_schema_comes_from_the_migrations(database: Database) -> None:
    async with database.read.connect() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version")))
        assert len(versions.all()) == 1
'''


def _expected(prefix: str) -> dict[str, Any]:
    """The values of a row that took every default of the fields named with `prefix`."""
    values: dict[str, Any] = {}
    for kind in KINDS:
        name = f"{prefix}{kind.type}"
        values |= {f"{name}_plain": None, f"{name}_null": None, f"{name}_set": kind.value}
    return values


def _insert_bare_row(root: Path, url: str, aggregate: str) -> uuid.UUID:
    """A row given only the columns every state table has: the others take their defaults."""
    table = storage_of(import_service(root, "matrix").domain("kinds").aggregate(aggregate)).table
    now = dt.datetime.now(dt.UTC)
    row_id = uuid7()

    async def work(database: Database) -> None:
        async with database.write.begin() as connection:
            await connection.execute(
                insert(table).values(id=row_id, version=1, created_at=now, updated_at=now)
            )

    _on(url, work)
    return row_id


def _set(root: Path, url: str, row_id: uuid.UUID, column: str, value: Any) -> None:
    table = storage_of(import_service(root, "matrix").domain("kinds").aggregate("first")).table

    async def work(database: Database) -> None:
        async with database.write.begin() as connection:
            await connection.execute(
                update(table).where(table.c.id == row_id).values({column: value})
            )

    _on(url, work)


def _read(root: Path, url: str, aggregate: str, row_id: uuid.UUID) -> dict[str, Any]:
    """The row, by column name."""
    table = storage_of(import_service(root, "matrix").domain("kinds").aggregate(aggregate)).table

    async def work(database: Database) -> dict[str, Any]:
        async with database.read.connect() as connection:
            row = (await connection.execute(select(table).where(table.c.id == row_id))).one()
        return dict(row._mapping)

    row: dict[str, Any] = _on(url, work)
    return row


def _pick(row: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {name: row.get(name, "(no such column)") for name in expected}


def _on(url: str, work: Any) -> Any:
    async def go() -> Any:
        database = Database(url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(go())
