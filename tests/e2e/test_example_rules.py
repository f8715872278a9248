"""The examples' own rules (their user code), through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
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


async def _until_found(http: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """The item at `path`, once a worker has made it (within a minute)."""
    for _ in range(600):
        reply = await http.get(path)
        if reply.status_code == 200:
            body: dict[str, Any] = reply.json()["data"]
            return body
        assert reply.status_code == 404, reply.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


async def test_clinic_bookings_never_overlap_nor_cross_clinics(
    examples: dict[str, Path], database_url: str
) -> None:
    """A schedule refuses a time its clinician is booked, and a patient of another clinic; its
    workers open the appointment, and free the time when it is cancelled."""
    service = import_service(examples["clinic"], "clinic")
    patient = {"account_id": "p-1", "full_name": "Ada", "birth_date": "1990-05-01", "phone": "1"}
    register = "/scheduling:register-patient/patient/:new"
    async with (
        served(service, database_url, workers_in_process=True, worker_poll_s=0.05) as api,
        api.client("receptionist", tenant="north") as north,
        api.client("receptionist", tenant="south") as south,
    ):
        ada = (await _ok(await north.post(register, json=patient), 201))["data"]["id"]
        bea = (await _ok(await south.post(register, json=patient), 201))["data"]["id"]
        opened = await north.post(
            "/scheduling:open-schedule/schedule/:new", json={"clinician_id": "dr-who"}
        )
        schedule = (await _ok(opened, 201))["data"]["id"]
        book = f"/scheduling:book-appointment/schedule/{schedule}"
        visit = {"patient_account": "p-1", "duration_minutes": 30, "reason": "check-up"}
        nine = {**visit, "patient_id": ada, "starts_at": "2030-01-07T09:00:00Z"}

        await _ok(await north.post(book, json=nine))
        overlapping = {**nine, "starts_at": "2030-01-07T09:20:00Z"}
        problem = _refused(
            await north.post(book, json=overlapping), 409, "clinician-already-booked"
        )
        assert problem["detail"].startswith("dr-who is booked from 2030-01-07T09:00:00+00:00")
        elsewhere = {**nine, "patient_id": bea, "starts_at": "2030-01-07T11:00:00Z"}
        _refused(await north.post(book, json=elsewhere), 422, "unknown-reference")
        await _ok(await north.post(book, json={**nine, "starts_at": "2030-01-07T09:30:00Z"}))

        history = await _ok(await north.get(f"/scheduling.schedule/{schedule}/events"))
        booked = [event["data"] for event in history["data"][1:]]
        assert [event["starts_at"] for event in booked] == [
            "2030-01-07T09:00:00Z",
            "2030-01-07T09:30:00Z",
        ]
        appointment = await _until_found(
            north, f"/scheduling.appointment/{booked[0]['appointment_id']}"
        )
        assert (appointment["clinician_id"], appointment["patient_id"]) == ("dr-who", ada)
        assert appointment["schedule_id"] == schedule
        day = f"/scheduling.clinician_day/{appointment['id']}"
        listed = await _until_found(north, day)
        assert (listed["clinician_id"], listed["starts_at"]) == ("dr-who", "2030-01-07T09:00:00Z")
        assert (await south.get(day)).status_code == 404, "another clinic's day is not seen"

        cancel = f"/scheduling:cancel-appointment/appointment/{appointment['id']}"
        cancelled = await north.post(cancel, json={})
        await _ok(cancelled)
        cancelled_token = cancelled.headers["consistency-token"]
        for _ in range(600):
            state = await _ok(await north.get(f"/scheduling.schedule/{schedule}"))
            if len(state["data"]["bookings"]) == 1:
                break
            await asyncio.sleep(0.1)
        gone = await north.get(day, headers={"Consistency-Token": cancelled_token})
        assert gone.status_code == 404, "a cancelled appointment leaves the clinician's day"
        await _ok(await north.post(book, json=nine))


async def test_shop_items_are_priced_from_the_catalogue(
    examples: dict[str, Path], database_url: str
) -> None:
    """`add-item` takes no price: the order reads the product's, and refuses one not on sale."""
    service = import_service(examples["shop"], "shop")
    product = {
        "sku": "TEA-1",
        "title": "Teapot",
        "details": "A teapot.",
        "price": "12.50",
        "weight_kg": 0.8,
        "attributes": {"colour": "blue"},
    }
    async with (
        served(service, database_url, workers_in_process=True, worker_poll_s=0.05) as api,
        api.client("merchandiser") as merchandiser,
        api.client("customer", sub="c-1") as customer,
        api.client("payments") as payments,
    ):
        created = "/catalog:create-product/product/:new"
        teapot = (await _ok(await merchandiser.post(created, json=product), 201))["data"]["id"]
        draft = (await _ok(await merchandiser.post(created, json=product), 201))["data"]["id"]
        await _ok(await merchandiser.post(f"/catalog:publish-product/product/{teapot}", json={}))
        order = {"customer_id": "c-1", "placed_at": "2030-01-07T09:00:00Z"}
        placed = await customer.post("/ordering:place-order/sales_order/:new", json=order)
        order_id = (await _ok(placed, 201))["data"]["id"]
        add = f"/ordering:add-item/sales_order/{order_id}"

        priced = {"product_id": teapot, "quantity": 2, "unit_price": "0.01"}
        _refused(await customer.post(add, json=priced), 422, "invalid-request")
        added = await customer.post(add, json={"product_id": teapot, "quantity": 2})
        await _ok(added)
        token = {"Consistency-Token": added.headers["consistency-token"]}
        sales = await _ok(await payments.get(f"/ordering.product_sales/{teapot}", headers=token))
        assert (sales["data"]["lines"], sales["data"]["units"]) == (1, 2)
        assert sales["data"]["revenue"] == "25.00"
        assert (await customer.get(f"/ordering.product_sales/{teapot}")).status_code == 403
        unpublished = await customer.post(add, json={"product_id": draft, "quantity": 1})
        _refused(unpublished, 409, "product-not-on-sale")
        await _ok(
            await merchandiser.post(f"/catalog:discontinue-product/product/{teapot}", json={})
        )
        retired = await customer.post(add, json={"product_id": teapot, "quantity": 1})
        assert _refused(retired, 409, "product-retired")["detail"] == "Teapot is no longer sold"

        item = (await _ok(await customer.get(f"/ordering.sales_order/{order_id}")))["data"]
        assert (item["total"], item["version"]) == ("25.00", 2)
        assert item["lines"] == [
            {"product_id": teapot, "sku": "TEA-1", "quantity": 2, "unit_price": "12.50"}
        ]
