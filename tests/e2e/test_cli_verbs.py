"""The verbs that work on a project: finding it, refusing clearly, and `policy explain`."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluvius_cli.demo import main as demo
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, fluvius_exits, fluvius_fails

pytestmark = pytest.mark.slow

AUTHORING_VERBS = (("generate",), ("migrate",), ("add", "domain", "lending"))
RUNTIME_VERBS = (
    ("migrate", "status"),
    ("run",),
    ("token", "--sub", "ann", "--role", "teller"),
    ("policy", "explain", "--role", "teller", "--action", "banking:deposit"),
    ("workers",),
    ("replay",),
    ("verify",),
)


@pytest.mark.parametrize("verb", AUTHORING_VERBS, ids=" ".join)
def test_an_authoring_verb_outside_any_project_says_so_in_one_line(
    verb: tuple[str, ...], tmp_path: Path
) -> None:
    output = fluvius_fails(*verb, cwd=tmp_path)
    assert f"no fluvius.yaml in {tmp_path.resolve()} or above it" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("verb", RUNTIME_VERBS, ids=" ".join)
def test_a_runtime_verb_outside_any_project_says_so_in_one_line(
    verb: tuple[str, ...], tmp_path: Path
) -> None:
    output = fluvius_fails(*verb, cwd=tmp_path)
    assert f"no fluvius project in {tmp_path.resolve()} or above it" in " ".join(output.split())
    assert "[tool.fluvius]" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("verb", [v for v in AUTHORING_VERBS if v[0] != "add"], ids=" ".join)
def test_an_authoring_verb_on_an_invalid_spec_shows_the_located_errors(
    verb: tuple[str, ...], projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    spec = root / "fluvius.yaml"
    lines = spec.read_text().replace("opened_on: date", "opened_on: dte").splitlines()
    spec.write_text("\n".join(lines) + "\n")
    first = next(n for n, line in enumerate(lines, 1) if "opened_on: dte" in line)
    output = fluvius_fails(*verb, cwd=root)
    assert f"fluvius.yaml:{first}:" in output
    assert "FV105" in output
    assert "Traceback" not in output


def test_the_runtime_verbs_work_from_the_generated_code_without_the_spec(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    (root / "fluvius.yaml").unlink()
    assert "applied 1 revision(s)" in fluvius("migrate", "up", cwd=root)
    assert "pending:  none" in fluvius("migrate", "status", cwd=root)
    assert "allow" in fluvius(*RUNTIME_VERBS[3], cwd=root)
    assert fluvius(*RUNTIME_VERBS[2], cwd=root).count(".") == 2
    assert "0 checked" in fluvius("verify", cwd=root)


def test_verbs_find_the_project_from_a_folder_inside_it(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    inside = root / "bank" / "banking"
    assert "unchanged" in fluvius("generate", cwd=inside)
    assert "allow" in fluvius(
        "policy", "explain", "--role", "teller", "--action", "banking:deposit", cwd=inside
    )


def test_policy_explain_names_the_rule_and_the_scope(projects: ProjectFactory) -> None:
    root = projects.pristine("bank")
    output = fluvius(
        "policy",
        "explain",
        "--role",
        "customer",
        "--sub",
        "ann",
        "--action",
        "banking:deposit",
        cwd=root,
    )
    assert "allow ann (customer): banking.account:deposit" in output
    assert "rule: p, customer, *, banking.account, deposit, owner" in output
    assert "only on banking.account rows whose owner is ann" in output
    teller = fluvius(
        "policy", "explain", "--role", "teller", "--action", "banking.account:read", cwd=root
    )
    assert "rule: p, teller, *, banking.account, read\n" in teller


def test_policy_explain_denies_what_no_rule_allows(projects: ProjectFactory) -> None:
    output = fluvius_fails(
        "policy",
        "explain",
        "--role",
        "auditor",
        "--action",
        "banking:deposit",
        cwd=projects.pristine("bank"),
    )
    assert "deny" in output
    assert "no policy row allows it" in output


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("banking.account:nonsense", "banking.account has no action nonsense"),
        ("banking.loan:read", "no aggregate banking.loan"),
        ("banking:nonsense", "no aggregate of domain banking take nonsense"),
        ("banking", "write domain:command or domain.aggregate:read"),
    ],
)
def test_policy_explain_refuses_an_unknown_action(
    projects: ProjectFactory, action: str, message: str
) -> None:
    output = fluvius_exits(
        2,
        "policy",
        "explain",
        "--role",
        "teller",
        "--action",
        action,
        cwd=projects.pristine("bank"),
    )
    assert message in " ".join(output.split())


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_run_on_a_port_in_use_says_so_in_one_line(
    projects: ProjectFactory, tmp_path: Path, taken_port: int
) -> None:
    root = projects.copy("bank", tmp_path)
    fluvius("migrate", cwd=root)
    output = fluvius_fails("run", "--port", str(taken_port), cwd=root)
    taken = f"port {taken_port} on 127.0.0.1 is in use by another process"
    assert output.strip() == f"✗ {taken}: pick another with --port N"


def test_the_demo_on_a_port_in_use_names_its_port_flag(tmp_path: Path, taken_port: int) -> None:
    with pytest.raises(SystemExit, match=r"pick another with \./dev demo --port N$"):
        demo(["--port", str(taken_port), "--dir", str(tmp_path / "bank")])
    assert not (tmp_path / "bank").exists()


def test_add_aggregate_prints_the_line_that_grants_it_to_a_role(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    loan = "banking.loan:create-loan"
    output = fluvius("add", "aggregate", "banking.loan", cwd=root)
    fluvius_fails("policy", "explain", "--role", "teller", "--action", loan, cwd=root)
    assert "No role may use banking.loan yet (access is denied by default)" in output
    grant = output.rsplit("\n  fluvius ", 1)[1].split()
    assert grant == ["add", "policy", "banking.loan", "ROLE", "--allow", "create-loan,read"]
    fluvius(*["teller" if word == "ROLE" else word for word in grant], cwd=root)
    allowed = fluvius("policy", "explain", "--role", "teller", "--action", loan, cwd=root)
    assert "allow" in allowed
    assert "rule: p, teller, *, banking.loan, create-loan" in allowed
