"""The HTTP API of generated services, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from fluvius.application.processor import CommandContext, CommandProcessor
from fluvius.casbin.permission import PUBLIC
from fluvius.data import Database
from fluvius.fastapi import commands
from fluvius.fastapi.access import bearer
from fluvius.fastapi.auth import mint_token
from fluvius.service import Service
from fluvius_cli.generate.http_samples import HttpTests
from fluvius_cli.generate.samples import ContractTests
from fluvius_cli.generate.view import AggregateView, ProjectView
from fluvius_cli.spec import load_spec
from tests.e2e.conftest import EXAMPLES
from tests.e2e.projects import import_service, served

pytestmark = pytest.mark.slow

OPEN = "/banking:open-account/account/:new"
ACCOUNTS = "/banking.account/"


def _opening(owner: str, deposit: str) -> dict[str, str]:
    return {"owner": owner, "initial_deposit": deposit, "opened_on": "2024-03-01"}


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "OK"
    return body


EXACT = ["9.90", "0.000000000000000000001", "1234567890123456789012.1234567"]
EXACT += ["1234567890123456789012.1234568", "10", "0.00"]


async def test_decimals_keep_every_digit_and_compare_as_numbers(
    examples: dict[str, Path], database_url: str
) -> None:
    """A decimal comes back as sent, scale included, and filters and sorts by value."""
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client("teller") as teller:
        for n, amount in enumerate(EXACT):
            await _ok(await teller.post(OPEN, json=_opening(f"o{n}", amount)), 201)

        async def balances(**params: str) -> list[str]:
            rows = (await _ok(await teller.get(ACCOUNTS, params=params)))["data"]
            return [row["balance"] for row in rows]

        assert sorted(await balances(limit="100")) == sorted(EXACT)
        by_value = ["0.00", "0.000000000000000000001", "9.90", "10", *EXACT[2:4]]
        assert await balances(sort="balance.asc") == by_value
        above = json.dumps({"balance.gt": "9.9"})
        assert await balances(query=above, sort="balance.desc") == by_value[:2:-1]
        equal = json.dumps({"balance.in": [9.9, "1234567890123456789012.12345670"]})
        assert await balances(query=equal, sort="balance") == ["9.90", EXACT[2]]
        first = await _ok(await teller.get(ACCOUNTS, params={"sort": "balance", "limit": "3"}))
        cursor = first["pagination"]["next_cursor"]
        assert await balances(sort="balance", limit="3", cursor=cursor) == by_value[3:]


async def test_commands_queries_and_history(examples: dict[str, Path], database_url: str) -> None:
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client("teller") as teller:
        created = await teller.post(OPEN, json=_opening("ann", "10"))
        account = (await _ok(created, 201))["data"]["id"]
        assert created.headers["etag"] == '"1"'
        assert created.headers["location"] == f"/banking.account/{account}"
        for owner, deposit in (("bo", "250.50"), ("cy", "75"), ("di", "0")):
            await _ok(await teller.post(OPEN, json=_opening(owner, deposit)), 201)

        deposit = f"/banking:deposit/account/{account}"
        first = await teller.post(
            deposit, json={"amount": "5"}, headers={"If-Match": '"1"', "Idempotency-Key": "dep-1"}
        )
        assert (await _ok(first))["data"]["version"] == 2
        assert first.headers["etag"] == '"2"'
        again = await teller.post(
            deposit, json={"amount": "5"}, headers={"If-Match": '"1"', "Idempotency-Key": "dep-1"}
        )
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        stale = await teller.post(deposit, json={"amount": "5"}, headers={"If-Match": '"1"'})
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"
        assert stale.json()["code"] == "version-conflict"

        rich = await teller.get(
            ACCOUNTS, params={"query": json.dumps({"balance.gt": 12}), "sort": "balance.desc"}
        )
        assert [row["owner"] for row in (await _ok(rich))["data"]] == ["bo", "cy", "ann"]
        named = await teller.get(
            ACCOUNTS, params={"query": json.dumps({".or": [{"owner": "di"}, {"owner": "ann"}]})}
        )
        assert sorted(row["owner"] for row in (await _ok(named))["data"]) == ["ann", "di"]

        page = await _ok(await teller.get(ACCOUNTS, params={"sort": "owner", "limit": 3}))
        pagination = page["pagination"]
        assert (pagination["total"], pagination["pages"], pagination["page"]) == (4, 2, 1)
        assert pagination["next_cursor"] is not None
        second = await _ok(
            await teller.get(ACCOUNTS, params={"sort": "owner", "limit": 3, "page": 2})
        )
        assert [row["owner"] for row in page["data"] + second["data"]] == ["ann", "bo", "cy", "di"]

        walked, cursor = [], None
        while True:
            params: dict[str, Any] = {"sort": "balance.desc", "limit": 1}
            if cursor is not None:
                params["cursor"] = cursor
            step = await _ok(await teller.get(ACCOUNTS, params=params))
            walked += [row["owner"] for row in step["data"]]
            cursor = step["pagination"]["next_cursor"]
            if cursor is None:
                break
        assert walked == ["bo", "cy", "ann", "di"]

        item = await teller.get(f"{ACCOUNTS}{account}")
        assert (await _ok(item))["data"]["balance"] == "15"
        assert item.headers["etag"] == '"2"'
        history = await _ok(await teller.get(f"{ACCOUNTS}{account}/events"))
        assert [(e["name"], e["version"]) for e in history["data"]] == [
            ("account-opened", 1),
            ("money-deposited", 2),
        ]
        assert history["data"][1]["data"] == {"amount": "5"}


async def test_an_overdraft_is_refused_by_the_declared_guard(
    examples: dict[str, Path], database_url: str
) -> None:
    """`withdraw` requires balance ge $amount: a 409 problem naming the rule, no event."""
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client("teller") as teller:
        created = await teller.post(OPEN, json=_opening("ann", "108"))
        account = (await _ok(created, 201))["data"]["id"]
        withdraw = f"/banking:withdraw/account/{account}"

        refused = await teller.post(withdraw, json={"amount": "100000"})
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["code"] == "requirement-failed"
        assert problem["detail"] == (
            "withdraw: balance must be at least amount (100000); it is 108"
        )
        await _ok(await teller.post(withdraw, json={"amount": "108"}))
        item = await _ok(await teller.get(f"{ACCOUNTS}{account}"))
        assert (item["data"]["balance"], item["data"]["version"]) == ("0", 2)


def _aggregates(root: Path) -> list[AggregateView]:
    spec = load_spec(root / "fluvius.yaml")
    return [a for domain in ProjectView(spec).domains for a in domain.aggregates]


def _allowed(aggregate: AggregateView, role: str | None, action: str) -> bool:
    """What the spec says: the role's policy, or the public one, allows the action."""
    policies = aggregate.spec.policies
    public = PUBLIC in policies and action in policies[PUBLIC].allow
    own = role is not None and role in policies and action in policies[role].allow
    return public or own


@pytest.mark.parametrize("example", EXAMPLES)
async def test_every_role_gets_what_the_spec_implies(
    examples: dict[str, Path], database_url: str, example: str
) -> None:
    service = import_service(examples[example], example)
    async with served(service, database_url) as api:
        for aggregate in _aggregates(examples[example]):
            tests = HttpTests(ContractTests(aggregate))
            seeded = await _seed(api, service, tests)
            roles = sorted({p.role for p in aggregate.permissions} - {PUBLIC} | {"stranger"})
            for case in tests.permissions:
                for role in [None, *roles]:
                    sub = next((c.sub for c in case.callers if c.role == role), "user-1")
                    client = api.client(role, sub=sub) if role else api.client()
                    async with client:
                        path = case.path.format(aggregate_id=seeded)
                        response = await client.request(
                            case.method.upper(), path, json=case.payload
                        )
                    expected = _allowed(aggregate, role, case.action)
                    denial = 401 if role is None else 403
                    described = f"{aggregate.qualified_name} {case.action} as {role or 'anonymous'}"
                    if expected:
                        assert response.status_code not in (401, 403), (
                            f"{described}: {response.text}"
                        )
                    else:
                        assert response.status_code == denial, f"{described}: {response.text}"
                        assert response.json()["code"] in ("unauthenticated", "forbidden")


async def _seed(api: Any, service: Service, tests: HttpTests, at: str | None = None) -> uuid.UUID:
    """An aggregate recorded through the creating command (with the id `at`), by a role allowed
    to create it (by a worker when no role is), after the aggregates its ref fields name."""
    aggregate = tests.aggregate
    creator = next(case for case in tests.permissions if not case.seeded and case.payload)
    assert creator.payload is not None
    for name, target in aggregate.command(creator.action).ref_targets:
        await _seed(api, service, HttpTests(ContractTests(target)), at=creator.payload[name])
    caller = next((c for c in creator.callers if c.allowed), None)
    if caller is None:
        return await _seed_as_a_worker(api, service, aggregate, creator.action, creator.payload, at)
    path = creator.path if at is None else creator.path.replace(":new", at)
    async with api.client(caller.role, sub=caller.sub) as client:
        response = await client.post(path, json=creator.payload)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["data"]["id"])


async def _seed_as_a_worker(
    api: Any,
    service: Service,
    aggregate: AggregateView,
    action: str,
    payload: dict[str, Any],
    at: str | None,
) -> uuid.UUID:
    """An aggregate that only workers create (no role may), created as a worker does."""
    domain, _, name = aggregate.qualified_name.partition(".")
    aggregate_type = service.domain(domain).aggregate(name)
    command = aggregate_type.handler_for(action).payload.model_validate_json(json.dumps(payload))
    database = Database(api.settings.database_url)
    try:
        result = await CommandProcessor(database).execute(
            aggregate_type,
            command,
            uuid.UUID(at) if at is not None else None,
            context=CommandContext(user="worker:seed", tenant=api.default_tenant),
        )
    finally:
        await database.dispose()
    return result.aggregate_id


async def test_owner_scope_confines_customers(examples: dict[str, Path], database_url: str) -> None:
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api:
        async with api.client("customer", sub="ann") as ann, api.client("customer", sub="bo") as bo:
            mine = (await _ok(await ann.post(OPEN, json=_opening("ann", "10")), 201))["data"]["id"]
            theirs = (await _ok(await bo.post(OPEN, json=_opening("bo", "20")), 201))["data"]["id"]
            for_someone_else = await ann.post(OPEN, json=_opening("bo", "1"))
            assert for_someone_else.status_code == 403
            listed = await _ok(await ann.get(ACCOUNTS))
            assert [row["id"] for row in listed["data"]] == [mine]
            assert listed["pagination"]["total"] == 1
            for path in (f"{ACCOUNTS}{theirs}", f"{ACCOUNTS}{theirs}/events"):
                hidden = await ann.get(path)
                assert hidden.status_code == 404, hidden.text
            foreign = await ann.post(f"/banking:deposit/account/{theirs}", json={"amount": "1"})
            assert foreign.status_code == 404, foreign.text
            assert foreign.json()["code"] == "not-found"
            own = await ann.post(f"/banking:deposit/account/{mine}", json={"amount": "1"})
            assert (await _ok(own))["data"]["version"] == 2
        async with api.client("teller") as teller:
            everyone = await _ok(await teller.get(ACCOUNTS))
            assert everyone["pagination"]["total"] == 2


async def test_tenants_never_see_each_other(examples: dict[str, Path], database_url: str) -> None:
    service = import_service(examples["clinic"], "clinic")
    patients = "/scheduling.patient/"
    register = "/scheduling:register-patient/patient/:new"
    details = {"account_id": "p-1", "full_name": "Ada", "birth_date": "1990-05-01", "phone": "1"}
    async with served(service, database_url) as api:
        async with api.client("receptionist", tenant="north") as north:
            patient = (await _ok(await north.post(register, json=details), 201))["data"]["id"]
        async with api.client("receptionist", tenant="south") as south:
            await _ok(await south.post(register, json={**details, "full_name": "Bea"}), 201)
            listed = await _ok(await south.get(patients))
            assert [row["full_name"] for row in listed["data"]] == ["Bea"]
            assert listed["pagination"]["total"] == 1
            for path in (f"{patients}{patient}", f"{patients}{patient}/events"):
                hidden = await south.get(path)
                assert hidden.status_code == 404, hidden.text
            command = await south.post(f"/scheduling:archive-patient/patient/{patient}", json={})
            assert command.status_code == 404, command.text
        async with api.client("receptionist", tenant="north") as north:
            still = await _ok(await north.get(f"{patients}{patient}"))
            assert still["data"]["archived"] is False
        token = mint_token(api.settings, "u-1", ("receptionist",), tenant=None)
        async with api.client() as client:
            refused = await client.get(patients, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "tenant-required"


async def test_a_dependency_override_holds_for_every_command(
    examples: dict[str, Path], database_url: str
) -> None:
    """The fast path stands aside in an app with dependency overrides, which only FastAPI's
    path applies: here every caller is made anonymous."""
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client("teller") as teller:
        api.app.dependency_overrides[bearer] = lambda: None
        refused = await teller.post(OPEN, json=_opening("ann", "10"))
        assert refused.status_code == 401, refused.text
        api.app.dependency_overrides.clear()
        await _ok(await teller.post(OPEN, json=_opening("ann", "10")), 201)


async def test_the_harness_fails_a_request_the_two_paths_answer_differently(
    examples: dict[str, Path], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under test every plain command is answered on both paths and compared byte for byte:
    a fast path that forgot a check (here the Idempotency-Key's length) fails the request."""
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client("teller") as teller:
        await _ok(await teller.post(OPEN, json=_opening("ann", "10")), 201)
        monkeypatch.setattr(commands, "_within", lambda _header, _bounds: True)
        long_key = {"Idempotency-Key": "k" * 201}
        differed = await teller.post(OPEN, json=_opening("bo", "10"), headers=long_key)
        assert differed.status_code == 500
        monkeypatch.undo()
        refused = await teller.post(OPEN, json=_opening("bo", "10"), headers=long_key)
        assert refused.status_code == 422
