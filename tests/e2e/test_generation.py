"""`fluvius new project`, `generate` and `add`, driven through the CLI on the example specs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fluvius_cli.generate import formatting
from fluvius_cli.generate.creation import ProjectError, new_project
from fluvius_cli.generate.formatting import FormattingError
from tests.e2e.conftest import EXAMPLES, ProjectFactory
from tests.e2e.projects import assert_linters_pass, fluvius, fluvius_fails, run_pytest, tree

pytestmark = pytest.mark.slow
EXAMPLE_SPECS = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("example", EXAMPLES)
def test_a_new_project_passes_its_own_tests_and_linters(
    projects: ProjectFactory, example: str
) -> None:
    root = projects.pristine(example)
    tests = run_pytest(root)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
    assert_linters_pass(root)


def test_a_ref_to_another_domain_passes_its_tests_and_linters(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    """The shop's refunds referring to catalog products: another domain's table is imported."""
    spec = tmp_path / "shop.yaml"
    example = (EXAMPLE_SPECS / "shop" / "fluvius.yaml").read_text()
    spec.write_text(example.replace("to: ordering.sales_order", "to: catalog.product"))
    root = tmp_path / "shop"
    fluvius("new", "project", "shop", "--spec", str(spec), "--dir", str(root))
    refund = (root / "shop" / "ordering" / "_generated" / "refund.py").read_text()
    assert 'Ref("catalog.product")' in refund
    tests = run_pytest(root)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert_linters_pass(root)


def test_comparing_guards_pass_their_contract_tests_and_linters(tmp_path: Path) -> None:
    """Guards against literals, the command's fields and other state fields, in generated code."""
    spec = Path(__file__).parent / "specs" / "lending.yaml"
    root = tmp_path / "lending"
    fluvius("new", "project", "lending", "--spec", str(spec), "--dir", str(root))
    book = (root / "lending" / "library" / "_generated" / "book.py").read_text()
    assert 'rules.Requirement("on_loan", (rules.FieldRef("copies"),), rules.Comparison.LT)' in book
    tests = run_pytest(root, "-rA")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    contract = "PASSED tests/_generated/test_library_book_contract.py::"
    for case in (
        "test_lend_book",
        "test_lend_book_is_refused_when_on_loan_is_0",
        "test_lend_book_is_refused_when_status_is_closed",
        "test_remove_copies",
        "test_remove_copies_is_refused_when_copies_is_0",
        "test_close_book_is_refused_when_status_is_closed",
    ):
        assert contract + case in tests.stdout.splitlines(), tests.stdout
    assert_linters_pass(root)


@pytest.mark.parametrize("example", EXAMPLES)
def test_regeneration_is_byte_identical(
    projects: ProjectFactory, example: str, tmp_path: Path
) -> None:
    root = projects.copy(example, tmp_path)
    before = tree(root)
    output = fluvius("generate", cwd=root)
    assert "create" not in output
    assert "update" not in output
    assert tree(root) == before
    fluvius("generate", "--check", cwd=root)


def test_a_hand_edited_generated_file_survives_and_is_flagged(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    generated = root / "bank/banking/_generated/account.py"
    edited = generated.read_text() + "\n# a hand edit\n"
    generated.write_text(edited)
    fluvius("add", "field", "banking.account", "nickname", "string", cwd=root)
    assert generated.read_text() == edited
    side = generated.with_name("account.py.fluvius-new")
    assert "nickname" in side.read_text()
    output = fluvius_fails("generate", "--check", cwd=root)
    assert "skipped-edited" in output
    assert "generated files edited by hand: bank/banking/_generated/account.py" in output
    generated.write_text(side.read_text())
    fluvius("generate", cwd=root)
    assert not side.exists()
    fluvius("generate", "--check", cwd=root)


def test_dry_run_lists_every_file_and_writes_nothing(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    (root / "bank/banking/_generated/policies.py").unlink()
    before = tree(root)
    output = fluvius("generate", "--dry-run", cwd=root)
    assert "create" in output
    assert "unchanged" in output
    assert tree(root) == before


def test_files_no_longer_in_the_spec_go_unless_edited(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("shop", tmp_path)
    spec = root / "fluvius.yaml"
    fluvius("add", "aggregate", "catalog.bundle", cwd=root)
    module = root / "shop/catalog/_generated/bundle.py"
    contract = root / "tests/_generated/test_catalog_bundle_contract.py"
    assert module.exists()
    contract.write_text(contract.read_text() + "\n# kept: edited by hand\n")
    lines = spec.read_text().splitlines(keepends=True)
    start = lines.index("      bundle:\n")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("        "))
    spec.write_text("".join(lines[:start] + lines[end:]))
    output = fluvius("generate", cwd=root)
    assert not module.exists()
    assert contract.exists()
    assert "edited" in output
    assert (root / "shop/catalog/bundle.py").exists(), "user modules are never deleted"


def test_add_aggregate_keeps_comments_and_the_project_passes(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    spec = root / "fluvius.yaml"
    before = spec.read_text()
    fluvius("add", "aggregate", "banking.loan", cwd=root)
    after = spec.read_text()
    aggregates = before.split("\n    views:", 1)[0]  # the new aggregate comes after these
    assert after.startswith(aggregates)
    assert after.endswith(before[len(aggregates) :])
    assert [line for line in before.splitlines() if "#" in line] == [
        line for line in after.splitlines() if "#" in line
    ]
    assert "loan:" in after
    assert "create-loan:" in after
    tests = run_pytest(root)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_a_domain_without_aggregates_leaves_the_project_clean(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    fluvius("add", "domain", "lending", cwd=root)
    assert (root / "bank/lending/_generated/tables.py").is_file()
    assert_linters_pass(root)


def test_an_invalid_addition_is_refused_and_the_spec_kept(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    before = tree(root)
    output = fluvius_fails("add", "field", "banking.account", "order", "strng", cwd=root)
    assert "fluvius.yaml:" in output
    assert "FV105" in output
    assert "did you mean 'string'" in output
    assert tree(root) == before


def test_a_failed_render_leaves_the_project_as_it_was(
    projects: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = projects.copy("bank", tmp_path)
    (root / "fluvius.yaml").write_text(
        (root / "fluvius.yaml")
        .read_text()
        .replace("auditor: {allow: [read]}", "auditor: {allow: [read, deposit]}")
    )
    before = tree(root)

    def broken(*_: object, **__: object) -> None:
        raise FormattingError("formatter crashed mid-render")

    monkeypatch.setattr(formatting, "_ruff", broken)
    with pytest.raises(FormattingError):
        fluvius("generate", cwd=root)
    assert tree(root) == before
    assert not list((root / ".fluvius").glob("staging-*"))


def test_a_failed_new_project_leaves_no_trace(
    projects: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects.pristine("bank")  # the skeleton cache exists

    def broken(*_: object, **__: object) -> None:
        raise FormattingError("formatter crashed mid-render")

    monkeypatch.setattr(formatting, "_ruff", broken)
    with pytest.raises(FormattingError):
        fluvius("new", "project", "bank", "--example", "bank", "--dir", str(tmp_path / "bank"))
    assert list(tmp_path.iterdir()) == []


def test_an_example_file_cannot_replace_a_generated_one(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    spec = (EXAMPLE_SPECS / "bank" / "fluvius.yaml").read_text()
    generated = {"bank/banking/_generated/account.py": "# mine\n"}
    with pytest.raises(ProjectError, match="is generated by fluvius"):
        new_project(tmp_path / "bank", spec, "fluvius.yaml", user_files=generated)
    assert list(tmp_path.iterdir()) == []


def test_new_project_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, projects: ProjectFactory
) -> None:
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "notes.txt").write_text("mine")
    target = str(tmp_path / "bank")
    output = fluvius_fails("new", "project", "bank", "--example", "bank", "--dir", target)
    assert "not empty" in output
    assert [p.name for p in (tmp_path / "bank").iterdir()] == ["notes.txt"]


def test_new_project_without_a_spec_starts_from_the_starter(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    fluvius("new", "project", "todo", "--dir", str(tmp_path / "todo"))
    spec = (tmp_path / "todo" / "fluvius.yaml").read_text()
    assert spec.startswith("# yaml-language-server: $schema=.fluvius/fluvius.schema.json")
    assert "name: todo" in spec
    tests = run_pytest(tmp_path / "todo")
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_generated_permission_tests_count_a_server_error_as_a_failure(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    rules = root / "bank/banking/account.py"
    rules.write_text(
        "from http import HTTPStatus\n\nfrom fluvius.fastapi.problems import ProblemError\n"
        + rules.read_text()
        + "\n    def deposit(self, command: object) -> list[object]:\n"
        + '        raise ProblemError(HTTPStatus.SERVICE_UNAVAILABLE, "down", "ledger down")\n'
    )
    tests = run_pytest(root, "tests/_generated/test_banking_account_http.py", "-k", "deposit")
    assert tests.returncode == 1, tests.stdout + tests.stderr
    assert "2 failed" in tests.stdout, tests.stdout
    assert "assert 503 < 500" in tests.stdout, tests.stdout


_BANK_RULES = '''
from fluvius.domain import Event, Rejected

from bank.banking._generated.account import AccountBase, Deposit, Withdraw


class Account(AccountBase):
    """Deposits start at 10; withdrawals wait for a weekday (the spec refuses overdrafts)."""

    def deposit(self, command: Deposit) -> list[Event]:
        if command.amount < 10:
            raise Rejected("deposit-too-small", "deposits start at 10")
        return super().deposit(command)

    async def withdraw(self, command: Withdraw) -> list[Event]:  # type: ignore[override]
        if self.context.now.weekday() >= 5:
            raise Rejected("weekend", "withdrawals wait for a weekday")
        return super().withdraw(command)
'''

_BANK_RULE_TESTS = """

async def test_an_overdraft_is_refused(scenario: Scenario) -> None:
    opened = AccountOpened(owner="ann", initial_deposit=Decimal("5"), opened_on=dt.date(2024, 1, 1))

    with pytest.raises(GuardFailed, match="balance must be at least amount"):
        await scenario.given(Account, opened).when(Withdraw(amount=Decimal("6")))


async def test_withdrawals_wait_for_a_weekday(scenario: Scenario) -> None:
    opened = AccountOpened(owner="ann", initial_deposit=Decimal("5"), opened_on=dt.date(2024, 1, 1))
    saturday = dt.datetime(2024, 1, 13, 12, tzinfo=dt.UTC)
    monday = saturday + dt.timedelta(days=2)
    given = scenario.given(Account, opened)

    with pytest.raises(Rejected, match="weekday"):
        await given.when(Withdraw(amount=Decimal("1")), user="ann", now=saturday)
    outcome = await given.when(Withdraw(amount=Decimal("1")), user="ann", now=monday)
    assert outcome.state.balance == Decimal("4")


async def test_a_small_deposit_is_refused(scenario: Scenario) -> None:
    opened = AccountOpened(owner="ann", initial_deposit=Decimal("5"), opened_on=dt.date(2024, 1, 1))

    with pytest.raises(Rejected):
        await scenario.given(Account, opened).when(Deposit(amount=Decimal("1")))
"""


def test_business_rules_in_the_user_class_leave_the_contract_tests_passing(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    """The contract tests run the generated base class; the user's tests run the user's."""
    root = tmp_path / "bank"  # from the spec alone: the user files as fluvius creates them
    spec = EXAMPLE_SPECS / "bank" / "fluvius.yaml"
    fluvius("new", "project", "bank", "--spec", str(spec), "--dir", str(root))
    rules = root / "bank/banking/account.py"
    docstring = rules.read_text().split("from bank", 1)[0]
    rules.write_text(docstring + _BANK_RULES.lstrip("\n"))
    user_tests = root / "tests/test_banking_account.py"
    text = user_tests.read_text().replace(
        "from fluvius.ids import uuid7",
        "import pytest\nfrom fluvius.domain import GuardFailed, Rejected\n"
        "from fluvius.ids import uuid7",
    )
    text = text.replace(
        "from bank.banking._generated.account import AccountOpened, AccountState, OpenAccount",
        "from bank.banking._generated.account import (\n"
        "    AccountOpened,\n    AccountState,\n    Deposit,\n    OpenAccount,\n    Withdraw,\n)",
    )
    user_tests.write_text(text + _BANK_RULE_TESTS)

    tests = run_pytest(root, "-rA")

    assert tests.returncode == 0, tests.stdout + tests.stderr
    for passed in (
        "tests/_generated/test_banking_account_contract.py::test_deposit",
        "tests/_generated/test_banking_account_contract.py::test_withdraw",
        "tests/test_banking_account.py::test_an_overdraft_is_refused",
        "tests/test_banking_account.py::test_withdrawals_wait_for_a_weekday",
        "tests/test_banking_account.py::test_a_small_deposit_is_refused",
    ):
        assert f"PASSED {passed}" in tests.stdout.splitlines(), tests.stdout
    assert_linters_pass(root)


def test_the_api_fixture_serves_the_routes_added_to_create_app(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    app_module = root / "bank/app.py"
    app_module.write_text(
        app_module.read_text().replace(
            "    return build_app(SERVICE, settings)\n",
            "    app = build_app(SERVICE, settings)\n\n"
            '    @app.get("/hello")\n'
            "    async def hello() -> dict[str, str]:\n"
            '        return {"hello": "bank"}\n\n'
            "    return app\n",
        )
    )
    (root / "tests/test_hello.py").write_text(
        "from fluvius.testing import Api\n\n\n"
        "async def test_hello(api: Api) -> None:\n"
        "    async with api.client() as anonymous:\n"
        '        response = await anonymous.get("/hello")\n\n'
        '    assert response.json() == {"hello": "bank"}\n'
    )

    tests = run_pytest(root, "tests/test_hello.py")

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert_linters_pass(root)


def test_mypy_checks_the_tests_of_a_generated_project(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    user_tests = root / "tests/test_banking_account.py"
    user_tests.write_text(user_tests.read_text() + '\n\nwrong: int = "one"\n')

    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=root, capture_output=True, text=True, check=False
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "tests/test_banking_account.py:" in result.stdout, result.stdout
