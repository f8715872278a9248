"""Handlers read other aggregates with `self.read`, through a generated project's HTTP app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, import_service, served

pytestmark = pytest.mark.slow

SPEC = Path(__file__).parent / "specs" / "market.yaml"
ADD_PRODUCT = "/catalog:add-product/product/:new"
RETIRE_PRODUCT = "/catalog:retire-product/product/{}"
PLACE_ORDER = "/ordering:place-order/order/:new"

ORDER_RULES = '''"""Orders price themselves from the product they name."""

from decimal import Decimal

from fluvius.domain import Event, Rejected

from market.catalog.product import Product
from market.ordering._generated.order import OrderBase, OrderPlaced, PlaceOrder


class Order(OrderBase):
    """An order of a product that exists and is still sold, at the product's price."""

    async def place_order(self, command: PlaceOrder) -> list[Event]:  # type: ignore[override]
        product = await self.read(Product, command.product_id)
        if product is None:
            raise Rejected("unknown-product", f"product {command.product_id} does not exist")
        if product.retired:
            raise Rejected("product-retired", f"{product.title} is no longer sold")
        total = (product.price or Decimal(0)) * command.quantity
        return [OrderPlaced(product_id=command.product_id, quantity=command.quantity, total=total)]
'''


@pytest.fixture(scope="module")
def market(projects: ProjectFactory) -> Path:
    """The market project, whose orders read their product."""
    root = projects.root / "reading" / "market"
    fluvius("new", "project", "market", "--spec", str(SPEC), "--dir", str(root))
    (root / "market/ordering/order.py").write_text(ORDER_RULES)
    return root


async def _data(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_a_handler_reads_the_current_state_of_another_aggregate(
    market: Path, database_url: str
) -> None:
    service = import_service(market, "market")
    async with (
        served(service, database_url) as api,
        api.client("merchandiser") as merchandiser,
        api.client("customer") as customer,
    ):
        added = await merchandiser.post(ADD_PRODUCT, json={"title": "Kettle", "price": "12.50"})
        product = (await _data(added, 201))["id"]

        placed = await customer.post(PLACE_ORDER, json={"product_id": product, "quantity": 3})
        order = (await _data(placed, 201))["id"]
        state = (await customer.get(f"/ordering.order/{order}")).json()["data"]
        assert state["total"] == "37.50"

        await _data(await merchandiser.post(RETIRE_PRODUCT.format(product), json={}), 200)
        refused = await customer.post(PLACE_ORDER, json={"product_id": product, "quantity": 1})
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "product-retired"


async def test_another_tenants_aggregate_reads_as_absent(market: Path, database_url: str) -> None:
    service = import_service(market, "market")
    async with (
        served(service, database_url) as api,
        api.client("merchandiser", tenant="north") as north,
        api.client("customer", tenant="south") as south,
    ):
        added = await north.post(ADD_PRODUCT, json={"title": "Kettle", "price": "12.50"})
        product = (await _data(added, 201))["id"]

        refused = await south.post(PLACE_ORDER, json={"product_id": product, "quantity": 1})

        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "unknown-product"
        assert f"product {product} does not exist" in refused.json()["detail"]
