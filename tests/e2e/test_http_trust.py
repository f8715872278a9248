"""What a caller cannot do through the HTTP app: borrow another caller's Idempotency-Key, use a
weak or malformed token, repeat a key in a command body, or refer to what it cannot see."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fluvius.fastapi.app import build_app
from fluvius.fastapi.auth import mint_token
from fluvius.settings import Settings, SettingsError
from fluvius.testing.api import Api, serving
from tests.e2e.projects import import_service, prepared, served

pytestmark = pytest.mark.slow

OPEN = "/banking:open-account/account/:new"
ACCOUNTS = "/banking.account/"
REGISTER = "/scheduling:register-patient/patient/:new"
OPEN_SCHEDULE = "/scheduling:open-schedule/schedule/:new"
BOOK = "/scheduling:book-appointment/schedule/{id}"
PROBLEM = "application/problem+json"


def _opening(owner: str, deposit: str = "10") -> dict[str, str]:
    return {"owner": owner, "initial_deposit": deposit, "opened_on": "2024-03-01"}


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    return problem


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    identifier: str = response.json()["data"]["id"]
    return identifier


# --- Idempotency-Key and owner scope -------------------------------------------------------------


async def test_another_callers_key_replays_nothing_of_theirs(
    examples: dict[str, Path], database_url: str
) -> None:
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api:
        async with api.client("customer", sub="ann") as ann, api.client("customer", sub="bo") as bo:
            opening = {"Idempotency-Key": "open-1"}
            mine = _created(await ann.post(OPEN, json=_opening("ann"), headers=opening))
            deposit = f"/banking:deposit/account/{mine}"
            paying = {"Idempotency-Key": "deposit-1"}
            first = await ann.post(deposit, json={"amount": "5"}, headers=paying)
            assert first.status_code == 200, first.text

            # the same key, path and body from another caller: as if the key were new to it
            borrowed = await bo.post(deposit, json={"amount": "5"}, headers=paying)
            problem = _problem(borrowed, 404, "not-found")
            assert "idempotent-replayed" not in borrowed.headers
            assert "events" not in borrowed.text
            created = await bo.post(OPEN, json=_opening("ann"), headers=opening)
            _problem(created, 403, "forbidden")

            # the key names nothing of ann's when bo uses it for a request of his own
            theirs = _created(await bo.post(OPEN, json=_opening("bo")))
            own = await bo.post(
                f"/banking:deposit/account/{theirs}", json={"amount": "7"}, headers=paying
            )
            assert own.status_code == 200, own.text
            assert own.json()["data"]["id"] == theirs
            reused = await bo.post(
                f"/banking:deposit/account/{theirs}", json={"amount": "8"}, headers=paying
            )
            problem = _problem(reused, 422, "idempotency-key-reused")
            assert mine not in problem["detail"], problem

            replayed = await ann.post(deposit, json={"amount": "5"}, headers=paying)
            assert replayed.json() == first.json()
            assert replayed.headers["idempotent-replayed"] == "true"
        async with api.client("teller") as teller:
            row = (await teller.get(f"{ACCOUNTS}{mine}")).json()["data"]
        assert (row["version"], Decimal(row["balance"])) == (2, Decimal(15))


async def test_a_replay_needs_the_scope_a_fresh_command_needs(
    examples: dict[str, Path], database_url: str
) -> None:
    """The same subject sent a command as a teller; as a customer it may not see its reply."""
    service = import_service(examples["bank"], "bank")
    key = {"Idempotency-Key": "deposit-as-teller"}
    async with served(service, database_url) as api:
        async with api.client("teller", sub="ann") as teller:
            account = _created(await teller.post(OPEN, json=_opening("bo")))
            deposit = f"/banking:deposit/account/{account}"
            sent = await teller.post(deposit, json={"amount": "5"}, headers=key)
            assert sent.status_code == 200, sent.text
        async with api.client("customer", sub="ann") as customer:
            replay = await customer.post(deposit, json={"amount": "5"}, headers=key)
        _problem(replay, 404, "not-found")
        assert account in replay.json()["detail"]  # its own path: nothing it did not send
        assert "events" not in replay.text


# --- Tokens --------------------------------------------------------------------------------------


def test_a_secret_under_32_bytes_is_refused_at_start(examples: dict[str, Path]) -> None:
    service = import_service(examples["bank"], "bank")
    settings = Settings(database_url="sqlite:///unused.db", jwt_secret="x" * 31)
    with pytest.raises(SettingsError, match=r"FLUVIUS_JWT_SECRET has 31 bytes.*at least 32"):
        build_app(service, settings)
    with pytest.raises(SettingsError, match="FLUVIUS_JWT_SECRET"):
        build_app(service, dataclasses.replace(settings, jwt_secret="é"))
    build_app(service, dataclasses.replace(settings, jwt_secret="x" * 32))


def _claims(api: Api, **claims: Any) -> dict[str, Any]:
    return {
        "sub": "u-1",
        "roles": ["teller"],
        "exp": int(time.time()) + 300,
        "iss": api.settings.jwt_issuer,
        "aud": api.settings.jwt_audience,
        **claims,
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
async def test_a_time_claim_given_as_text_is_refused(
    examples: dict[str, Path], tmp_path: Path, claim: str
) -> None:
    service = import_service(examples["bank"], "bank")
    async with served(service, f"sqlite:///{tmp_path / 'bank.db'}") as api, api.client() as client:
        moment = int(time.time()) + (300 if claim == "exp" else -60)
        secret = api.settings.jwt_secret
        assert secret is not None
        number = jwt.encode(_claims(api, **{claim: moment}), secret, algorithm="HS256")
        text = jwt.encode(_claims(api, **{claim: str(moment)}), secret, algorithm="HS256")
        accepted = await client.get(ACCOUNTS, headers=_bearer(number))
        refused = await client.get(ACCOUNTS, headers=_bearer(text))
    assert accepted.status_code == 200, accepted.text
    problem = _problem(refused, 401, "unauthenticated")
    assert f"`{claim}`" in problem["detail"], problem


async def test_an_empty_tenant_is_no_tenant(examples: dict[str, Path], tmp_path: Path) -> None:
    service = import_service(examples["clinic"], "clinic")
    async with served(service, f"sqlite:///{tmp_path / 'clinic.db'}") as api:
        async with api.client("receptionist", tenant="north") as north:
            _created(await north.post(REGISTER, json=_patient("Ada")))
        empty = mint_token(api.settings, "u-1", ("receptionist",), tenant="")
        assert jwt.decode(empty, options={"verify_signature": False})["tenant"] == ""
        async with api.client() as client:
            listed = await client.get("/scheduling.patient/", headers=_bearer(empty))
            created = await client.post(REGISTER, json=_patient("Eve"), headers=_bearer(empty))
    _problem(listed, 403, "tenant-required")
    _problem(created, 403, "tenant-required")


class _Keys:
    """An RSA key pair, its JWKS document, and tokens it signs."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        self.document = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    def token(self, settings: Settings, sub: str) -> str:
        claims = {
            "sub": sub,
            "roles": ["teller"],
            "exp": int(time.time()) + 300,
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
        }
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": "k1"})


@contextmanager
def _jwks_server(document: str) -> Iterator[ThreadingHTTPServer]:
    """A JWKS endpoint on a free local port, until `shutdown()` or the end of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = document.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_unreachable_keys_answer_503_and_fetched_keys_keep_working(
    examples: dict[str, Path], tmp_path: Path
) -> None:
    service = import_service(examples["bank"], "bank")
    keys = _Keys()
    database_url = f"sqlite:///{tmp_path / 'bank.db'}"
    with _jwks_server(keys.document) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        settings = await prepared(service, database_url, jwt_secret=None, jwt_jwks_url=url)
        async with serving(service, settings) as api, api.client() as client:
            before = await client.get(ACCOUNTS, headers=_bearer(keys.token(settings, "u-1")))
            assert before.status_code == 200, before.text
            server.shutdown()
            server.server_close()
            # a token never seen, checked with the keys fetched while the endpoint was up
            after = await client.get(ACCOUNTS, headers=_bearer(keys.token(settings, "u-2")))
            assert after.status_code == 200, after.text

    # a service that never reached its keys (the port is closed now)
    async with serving(service, settings) as api, api.client() as client:
        for path in (ACCOUNTS, OPEN):
            method = client.get if path == ACCOUNTS else client.post
            kwargs: dict[str, Any] = {} if path == ACCOUNTS else {"json": _opening("ann")}
            down = await method(path, headers=_bearer(keys.token(settings, "u-3")), **kwargs)
            problem = _problem(down, 503, "keys-unavailable")
            assert int(down.headers["retry-after"]) > 0
            for internal in ("127.0.0.1", "url", "refused", "Errno", "urlopen"):
                assert internal not in problem["detail"], problem


# --- Duplicate keys in a command body ------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8"],
    ids=["fast-path", "fastapi-path"],
)
async def test_a_body_that_repeats_a_key_is_refused(
    examples: dict[str, Path], database_url: str, content_type: str
) -> None:
    service = import_service(examples["bank"], "bank")
    headers = {"Content-Type": content_type}
    async with served(service, database_url) as api, api.client("teller") as teller:
        account = _created(await teller.post(OPEN, json=_opening("ann")))
        deposit = f"/banking:deposit/account/{account}"
        twice = await teller.post(
            deposit, content=b'{"amount":"1","amount":"1000000"}', headers=headers
        )
        nested = b'{"owner":"bo","initial_deposit":"1","opened_on":"2024-03-01","owner":"cy"}'
        opened = await teller.post(OPEN, content=nested, headers=headers)
        once = await teller.post(deposit, content=b'{"amount":"1"}', headers=headers)
        row = (await teller.get(f"{ACCOUNTS}{account}")).json()["data"]
        listed = (await teller.get(ACCOUNTS)).json()["pagination"]["total"]
    for refused, key in ((twice, "amount"), (opened, "owner")):
        problem = _problem(refused, 400, "duplicate-key")
        assert f"'{key}'" in problem["detail"], problem
        assert [entry["field"] for entry in problem["errors"]] == ["body"]
    assert once.status_code == 200, once.text
    assert (Decimal(row["balance"]), listed) == (Decimal(11), 1)


# --- References ----------------------------------------------------------------------------------


def _patient(name: str) -> dict[str, Any]:
    return {
        "account_id": f"acct-{name}",
        "full_name": name,
        "birth_date": "1990-05-01",
        "phone": "1",
    }


def _booking(patient_id: str) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "patient_account": "acct",
        "starts_at": "2026-01-05T09:00:00Z",
        "reason": "check-up",
    }


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8"],
    ids=["fast-path", "fastapi-path"],
)
async def test_a_ref_must_name_an_aggregate_of_the_callers_tenant(
    examples: dict[str, Path], database_url: str, content_type: str
) -> None:
    service = import_service(examples["clinic"], "clinic")
    headers = {"Content-Type": content_type}
    async with served(service, database_url) as api:
        async with api.client("receptionist", tenant="north") as north:
            northern = _created(await north.post(REGISTER, json=_patient("Ada")))
        async with api.client("receptionist", tenant="south") as south:
            southern = _created(await south.post(REGISTER, json=_patient("Bea")))
            schedule = _created(await south.post(OPEN_SCHEDULE, json={"clinician_id": "dr-1"}))
            book = BOOK.format(id=schedule)
            absent = "0190b1c2-0000-7000-8000-000000000000"
            refused = {}
            for name, patient in (("north", northern), ("absent", absent)):
                body = json.dumps(_booking(patient)).encode()
                refused[name] = await south.post(book, content=body, headers=headers)
            booked = await south.post(
                book, content=json.dumps(_booking(southern)).encode(), headers=headers
            )
            history = (await south.get(f"/scheduling.schedule/{schedule}/events")).json()["data"]
    for name, patient in (("north", northern), ("absent", absent)):
        problem = _problem(refused[name], 422, "unknown-reference")
        [entry] = problem["errors"]
        assert entry["field"] == "body.patient_id", problem
        assert f"scheduling.patient {patient}" in entry["message"], entry
    assert booked.status_code == 200, booked.text
    assert [event["data"]["patient_id"] for event in history[1:]] == [southern]
