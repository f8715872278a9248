"""The examples' own rules (their user code), through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.projects import import_service, served

pytestmark = pytest.mark.slow


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a problem of `status` with `code`; returns the problem."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    return problem


async def test_bank_large_withdrawals_need_a_second_teller(
    examples: dict[str, Path], database_url: str
) -> None:
    """Over 10000, `approved_by` must name another teller than the caller."""
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client("teller", sub="tom") as teller:
        opening = {"owner": "ann", "initial_deposit": "50000", "opened_on": "2024-03-01"}
        created = await teller.post("/banking:open-account/account/:new", json=opening)
        account = (await _ok(created, 201))["data"]["id"]
        withdraw = f"/banking:withdraw/account/{account}"

        alone = await teller.post(withdraw, json={"amount": "10000.01"})
        assert "needs approved_by" in _refused(alone, 409, "second-teller-required")["detail"]
        own = await teller.post(withdraw, json={"amount": "20000", "approved_by": "tom"})
        assert "cannot be the one" in _refused(own, 409, "second-teller-required")["detail"]
        overdraft = await teller.post(withdraw, json={"amount": "60000", "approved_by": "eve"})
        _refused(overdraft, 409, "requirement-failed")

        await _ok(await teller.post(withdraw, json={"amount": "10000"}))
        await _ok(await teller.post(withdraw, json={"amount": "20000", "approved_by": "eve"}))
        item = await _ok(await teller.get(f"/banking.account/{account}"))
        assert (item["data"]["balance"], item["data"]["version"]) == ("20000", 3)
        history = await _ok(await teller.get(f"/banking.account/{account}/events"))
        assert history["data"][2]["data"] == {"amount": "20000", "approved_by": "eve"}
