"""`fluvius migrate` through a sequence of spec edits, with data written before every step."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database, storage_of, verify
from fluvius_cli.generate import skeleton
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, fluvius_fails, import_service, tree
from tests.e2e.revisions import assert_revisions_clean

pytestmark = pytest.mark.slow


class Bank:
    """The bank project under migration, with its database."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.accounts: list[Any] = []

    def edit(self, change: Callable[[str], str]) -> None:
        """Change the spec by hand (`fluvius migrate` generates the code from it)."""
        spec = self.root / "fluvius.yaml"
        spec.write_text(change(spec.read_text()))

    def migrate(self) -> str:
        """Migrate, proving the spec was dirty before and clean after."""
        fluvius_fails("migrate", "--check", cwd=self.root)
        output = fluvius("migrate", cwd=self.root)
        fluvius("migrate", "--check", cwd=self.root)
        return output

    def run(self, work: Callable[[Any, Database], Any]) -> Any:
        """`work(module, database)` on the project's freshly imported code."""
        service = import_service(self.root, "bank")

        async def go() -> Any:
            database = Database(self.url)
            try:
                return await work(service, database)
            finally:
                await database.dispose()

        return asyncio.run(go())

    def open_account(self, owner: str) -> None:
        async def work(service: Any, database: Database) -> Any:
            account = service.domain("banking").aggregate("account")
            opening = account.handler_for("open-account").payload(
                owner=owner, initial_deposit=Decimal("12.5"), opened_on=dt.date(2024, 5, 1)
            )
            processor = CommandProcessor(database)
            result = await processor.execute(account, opening)
            deposit = account.handler_for("deposit").payload(amount=Decimal("2.5"))
            await processor.execute(account, deposit, result.aggregate_id)
            return result.aggregate_id

        self.accounts.append(self.run(work))

    def rows(self) -> list[dict[str, Any]]:
        async def work(service: Any, database: Database) -> Any:
            table = storage_of(service.domain("banking").aggregate("account")).table
            async with database.read.connect() as connection:
                result = await connection.execute(select(table).order_by(table.c.owner))
                return [dict(row) for row in result.mappings()]

        rows: list[dict[str, Any]] = self.run(work)
        return rows

    def assert_data_intact(self) -> None:
        """Every account written so far reads back, and state equals the fold of its events."""
        rows = self.rows()  # owners are owner-0, owner-1...: their order is the opening order
        assert [row["id"] for row in rows] == self.accounts
        assert all(row["balance"] == Decimal(15) for row in rows)

        async def work(service: Any, database: Database) -> Any:
            return await verify(database, service.domain("banking").aggregate("account"))

        report = self.run(work)
        assert report.ok, report.differences


@pytest.fixture
def bank(
    projects: ProjectFactory, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Bank:
    monkeypatch.setenv("FLUVIUS_DATABASE_URL", database_url)
    root = projects.copy("bank", tmp_path)
    fluvius("migrate", cwd=root)
    return Bank(root, database_url)


def test_a_sequence_of_spec_edits_keeps_the_data(bank: Bank) -> None:
    bank.open_account("owner-0")

    bank.edit(lambda spec: spec)  # nothing changed: nothing to migrate
    fluvius("migrate", "--check", cwd=bank.root)

    fluvius("add", "aggregate", "banking.loan", "--field", "principal:decimal", cwd=bank.root)
    assert "add aggregate banking.loan" in bank.migrate()
    bank.assert_data_intact()
    bank.open_account("owner-1")

    fluvius(
        "add", "field", "banking.account", "currency", "string", "--default", "EUR", cwd=bank.root
    )
    assert "add field banking.account.currency" in bank.migrate()
    assert {row["currency"] for row in bank.rows()} == {"EUR"}
    bank.assert_data_intact()
    bank.open_account("owner-2")

    bank.edit(
        lambda spec: spec.replace(
            "currency: {type: string, default: EUR}",
            "currency_code: {type: string, default: EUR, renamed_from: currency}",
        )
    )
    assert "rename field banking.account.currency to currency_code" in bank.migrate()
    assert {row["currency_code"] for row in bank.rows()} == {"EUR"}
    bank.assert_data_intact()
    bank.open_account("owner-3")

    bank.edit(
        lambda spec: spec.replace(
            "values: [open, frozen, closed]", "values: [open, frozen, closed, dormant]"
        )
    )
    assert "change the values of banking.account.status" in bank.migrate()
    _set_status(bank, "dormant")
    with pytest.raises(IntegrityError):
        _set_status(bank, "gone")
    _set_status(bank, "open")
    bank.assert_data_intact()
    bank.open_account("owner-4")

    bank.edit(
        lambda spec: spec.replace(
            "currency_code: {type: string, default: EUR,",
            "currency_code: {type: string, default: EUR, index: true,",
        )
    )
    assert "index banking.account.currency_code" in bank.migrate()
    assert any(index["column_names"] == ["currency_code"] for index in _indexes(bank))
    bank.assert_data_intact()

    bank.edit(
        lambda spec: spec.replace(
            "fields: {amount: decimal}\n            apply: {add: {balance: $amount}}",
            "fields: {amount: decimal, channel: {type: string, default: branch}}\n"
            "            apply: {add: {balance: $amount}}",
        )
    )
    output = fluvius("migrate", cwd=bank.root)  # events are JSON: new code, no table changes
    assert "wrote" not in output
    assert "upcast_money_deposited_v1" in (bank.root / "bank/banking/account.py").read_text()
    fluvius("migrate", "--check", cwd=bank.root)
    bank.open_account("owner-5")
    bank.assert_data_intact()
    _history_reads_old_and_new_events(bank)
    assert_revisions_clean(bank.root, count=6)


def _set_status(bank: Bank, status: str) -> None:
    async def work(service: Any, database: Database) -> None:
        table = storage_of(service.domain("banking").aggregate("account")).table
        async with database.write.begin() as connection:
            await connection.execute(
                update(table).where(table.c.owner == "owner-0").values(status=status)
            )

    bank.run(work)


def _indexes(bank: Bank) -> list[dict[str, Any]]:
    async def work(_service: Any, database: Database) -> Any:
        async with database.read.connect() as connection:
            return await connection.run_sync(lambda c: inspect(c).get_indexes("banking_account"))

    indexes: list[dict[str, Any]] = bank.run(work)
    return indexes


def _history_reads_old_and_new_events(bank: Bank) -> None:
    async def work(service: Any, database: Database) -> Any:
        account = service.domain("banking").aggregate("account")
        events = storage_of(account).log.events
        async with database.read.connect() as connection:
            rows = (
                await connection.execute(
                    select(events.c.name, events.c.schema_version, events.c.data).where(
                        events.c.name == "money-deposited"
                    )
                )
            ).all()
        return [
            (row.schema_version, account.load_event(row.name, row.schema_version, row.data))
            for row in rows
        ]

    loaded = bank.run(work)
    assert {version for version, _ in loaded} == {1, 2}
    assert all(event.channel == "branch" for _, event in loaded)


def test_an_unsafe_change_is_refused_and_touches_nothing(bank: Bank) -> None:
    fluvius("add", "field", "banking.account", "branch", "string", cwd=bank.root)
    bank.migrate()
    bank.open_account("owner-0")
    migrations = tree(bank.root / "migrations")
    revision = _revision(bank)
    bank.edit(lambda spec: spec.replace("branch: string", "branch: integer"))
    output = fluvius_fails("migrate", cwd=bank.root)
    assert "FV401" in output
    assert "fluvius.yaml:" in output
    assert "banking.account.branch would change from" in output
    assert tree(bank.root / "migrations") == migrations
    assert _revision(bank) == revision
    assert [row["owner"] for row in bank.rows()] == ["owner-0"]


def _revision(bank: Bank) -> list[str]:
    async def work(_service: Any, database: Database) -> Any:
        async with database.read.connect() as connection:
            return list(
                (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalars()
            )

    revisions: list[str] = bank.run(work)
    return revisions


FAILING_REVISION = """\"\"\"fill the note, from a column that does not exist\"\"\"

import sqlalchemy as sa
from alembic import op

revision = "f00dbad0f00d"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("banking_account", sa.Column("note", sa.String(20)))
    op.execute("UPDATE banking_account SET note = nickname_typo")


def downgrade() -> None:
    op.drop_column("banking_account", "note")
"""


def test_a_failed_revision_is_one_located_line_and_the_database_stays_before_it(
    bank: Bank,
) -> None:
    fluvius("add", "field", "banking.account", "nickname", "string", cwd=bank.root)
    bank.migrate()
    [good] = _revision(bank)
    fluvius("migrate", "down", cwd=bank.root)
    bad = bank.root / "migrations" / "versions" / "20990101_f00dbad0f00d_fill_the_note.py"
    bad.write_text(FAILING_REVISION.format(down=good))
    line = 1 + bad.read_text().splitlines().index(
        '    op.execute("UPDATE banking_account SET note = nickname_typo")'
    )

    output = fluvius_fails("migrate", "up", cwd=bank.root)
    [message] = output.strip().splitlines()
    assert message.startswith(f"✗ migrations/versions/{bad.name}:{line}: revision f00dbad0f00d")
    assert "nickname_typo" in message  # the database's own words
    assert "in: UPDATE banking_account SET note = nickname_typo" in message
    assert message.endswith(f"the database stays at {good}")
    assert _revision(bank) == [good]  # the revision before it was applied and kept
    columns = {column["name"] for column in _columns(bank)}
    assert "nickname" in columns
    assert "note" not in columns  # the failed revision's first statement was undone

    [message] = fluvius_fails("migrate", cwd=bank.root).strip().splitlines()
    assert message.startswith(f"✗ migrations/versions/{bad.name}:{line}: revision f00dbad0f00d")
    assert message.endswith("yours is untouched")

    bad.write_text(bad.read_text().replace("nickname_typo", "nickname"))
    fluvius("migrate", "up", cwd=bank.root)
    assert _revision(bank) == ["f00dbad0f00d"]
    assert "note" in {column["name"] for column in _columns(bank)}


def test_an_unreachable_database_is_one_line_for_migrate_and_run(
    projects: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = projects.copy("bank", tmp_path)
    monkeypatch.setenv("FLUVIUS_DATABASE_URL", "postgresql://ann:secret@127.0.0.1:9/bank")
    for verb in (["migrate", "status"], ["migrate", "up"], ["migrate"], ["run"]):
        [message] = fluvius_fails(*verb, cwd=root).strip().splitlines()
        assert message.startswith("✗ postgresql://ann:***@127.0.0.1:9/bank: "), message


def test_sql_prints_the_pending_upgrade_and_writes_nothing(bank: Bank) -> None:
    bank.edit(
        lambda spec: spec.replace(
            "opened_on: date",
            "opened_on: date\n          branch: {type: string, max_length: 20}",
            1,
        )
    )
    before = tree(bank.root)
    assert "older than fluvius.yaml" in fluvius_fails("migrate", "--sql", cwd=bank.root)
    fluvius("generate", cwd=bank.root)
    unmigrated = fluvius_fails("migrate", "--sql", cwd=bank.root)
    assert "unmigrated changes: add field banking.account.branch" in unmigrated
    assert tree(bank.root) != before  # generate wrote the code; --sql wrote no revision
    assert not list((bank.root / "migrations" / "versions").glob("*branch*"))
    [first] = _revision(bank)
    bank.migrate()
    assert f"back at {first}" in fluvius("migrate", "down", cwd=bank.root)
    sql = fluvius("migrate", "--sql", cwd=bank.root)
    assert "ADD COLUMN branch VARCHAR(20)" in sql
    assert not any(word in sql for word in ("Generating", "wrote", "✓"))


def test_forked_migrations_are_detected_and_merged(bank: Bank) -> None:
    versions = bank.root / "migrations" / "versions"
    fluvius("add", "field", "banking.account", "nickname", "string", cwd=bank.root)
    bank.migrate()
    [branch_a] = [p for p in versions.glob("*nickname*.py")]
    twin = branch_a.read_text().replace("nickname", "alias")
    old_id = branch_a.name.split("_")[1]
    twin_id = "b0b0b0b0b0b0"
    twin = twin.replace(old_id, twin_id)
    (versions / branch_a.name.replace(old_id, twin_id).replace("nickname", "alias")).write_text(
        twin
    )
    assert f"pending:  {twin_id}" in fluvius("migrate", "status", cwd=bank.root)
    output = fluvius_fails("migrate", cwd=bank.root)
    assert "2 heads" in output
    assert "fluvius migrate merge" in output
    fluvius("migrate", "merge", cwd=bank.root)
    fluvius("migrate", "up", cwd=bank.root)
    assert_revisions_clean(bank.root, count=4)
    assert "alias" in {column["name"] for column in _columns(bank)}


def _columns(bank: Bank) -> list[dict[str, Any]]:
    async def work(_service: Any, database: Database) -> Any:
        async with database.read.connect() as connection:
            return await connection.run_sync(lambda c: inspect(c).get_columns("banking_account"))

    columns: list[dict[str, Any]] = bank.run(work)
    return columns


def test_upgrade_brings_the_skeleton_forward_keeping_edits(
    projects: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = projects.copy("bank", tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text() + "\nOur own notes.\n")
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"],
    ):
        subprocess.run(["git", *command], cwd=root, check=True)
    newer = tmp_path / "skeleton-0.2"
    shutil.copytree(skeleton._source(), newer)
    dockerfile = newer / "Dockerfile.jinja"
    dockerfile.write_text(
        dockerfile.read_text().replace("FROM python:3.11-slim", "FROM python:3.12-slim")
    )
    monkeypatch.setattr(skeleton, "_source", lambda: newer)
    monkeypatch.setattr(skeleton, "__version__", "0.2.0")
    fluvius("upgrade", cwd=root)
    assert "FROM python:3.12-slim" in (root / "Dockerfile").read_text()
    assert readme.read_text().endswith("Our own notes.\n")
    assert "_commit: v0.2.0" in (root / ".copier-answers.yml").read_text()
