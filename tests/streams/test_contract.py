"""The public contract: the CloudEvents envelope, and the AsyncAPI document that describes it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from typer.testing import CliRunner

from fluvius.domain import Event, EventMetadata, RecordedEvent
from fluvius.fastapi.app import build_app
from fluvius.service import Service
from fluvius.settings import Settings
from fluvius.streams.asyncapi import asyncapi
from fluvius.streams.envelope import envelope, message
from tests.runtime.bank import MoneyDeposited

ASYNCAPI_SCHEMA = Path(__file__).parent / "asyncapi-3.0.0.schema.json"  # @asyncapi/specs 6.11.1


class MoneyDepositedV2(Event, name="money-deposited", version=2):
    amount: Decimal
    currency: str


def _recorded(data: Event, *, tenant: str | None = None) -> RecordedEvent[Event]:
    return RecordedEvent(
        position=7,
        id=uuid.uuid4(),
        aggregate="account",
        aggregate_id=uuid.uuid4(),
        version=3,
        name=data.event_name,
        schema_version=1,
        data=data,
        metadata=EventMetadata(correlation_id="req-1", tenant=tenant),
        recorded_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        transaction_id=0,
    )


def test_the_envelope_is_a_structured_cloudevent() -> None:
    event = _recorded(MoneyDeposited(amount=Decimal("2.50")), tenant="acme")
    assert envelope("bank", "banking", event, tenancy=True) == {
        "specversion": "1.0",
        "id": str(event.id),
        "source": "bank",
        "type": "bank.banking.money-deposited.v1",
        "subject": str(event.aggregate_id),
        "time": "2026-01-02T03:04:05Z",
        "datacontenttype": "application/json",
        "data": {"amount": "2.50"},
        "position": 7,
        "aggregateversion": 3,
        "correlationid": "req-1",
        "tenant": "acme",
    }
    assert "tenant" not in envelope("bank", "banking", event), "only with tenancy"
    sent = message("bank", "banking", event)
    assert (sent.id, sent.key) == (str(event.id), str(event.aggregate_id))
    assert json.loads(sent.body) == envelope("bank", "banking", event)


def test_a_new_schema_version_is_a_new_type() -> None:
    upcast = _recorded(MoneyDepositedV2(amount=Decimal(1), currency="EUR"))
    assert envelope("bank", "banking", upcast)["type"] == "bank.banking.money-deposited.v2"


def _validate(document: dict[str, Any]) -> None:
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(document)


def test_the_asyncapi_document_is_valid_asyncapi_3(service: Service) -> None:
    document = asyncapi(service)
    _validate(document)
    channel = document["channels"]["money"]
    assert channel["address"] == f"{service.name}.money"
    names = sorted(channel["messages"])
    assert names == [
        f"{service.name}.banking.money-deposited.v1",
        f"{service.name}.banking.money-withdrawn.v1",
    ]
    payload = document["components"]["messages"][names[0]]["payload"]
    assert payload["properties"]["data"]["properties"].keys() == {"amount"}
    assert payload["properties"]["type"] == {"const": names[0]}


def test_the_asyncapi_check_can_fail(service: Service) -> None:
    document = asyncapi(service)
    document["operations"]["publish-money"]["action"] = "publish"  # AsyncAPI 2 wording
    with pytest.raises(jsonschema.ValidationError):
        _validate(document)


async def test_the_service_serves_its_asyncapi_document(service: Service, tmp_path: Path) -> None:
    settings = Settings.load(service.name, tmp_path, {"FLUVIUS_JWT_SECRET": "x" * 32})
    app = build_app(service, settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bank") as client:
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.json() == asyncapi(service)


def test_fluvius_asyncapi_prints_the_document(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fluvius.cli import asyncapi as verb
    from fluvius.cli import runtime_app

    class Found:
        def service(self) -> Service:
            return service

    monkeypatch.setattr(verb, "open_project", lambda _: Found())
    result = CliRunner().invoke(runtime_app(), ["asyncapi"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == asyncapi(service)
