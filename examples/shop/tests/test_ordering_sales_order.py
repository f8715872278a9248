"""The shop's rules on ordering.sales_order: items are priced from the catalogue, and a product
that is not on sale is refused."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from fluvius.domain import Event, Rejected
from fluvius.testing import Scenario

from shop.catalog._generated.product import (
    ProductCreated,
    ProductDiscontinued,
    ProductPublished,
)
from shop.catalog.product import Product
from shop.ordering._generated.sales_order import AddItem, ItemAdded, OrderPlaced
from shop.ordering.sales_order import SalesOrder

PLACED = OrderPlaced(customer_id="c-1", placed_at=dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC))
TEAPOT = ProductCreated(
    sku="TEA-1",
    title="Teapot",
    details="A teapot.",
    price=Decimal("12.50"),
    weight_kg=0.8,
    attributes={"colour": "blue"},
)


async def _product(scenario: Scenario, *events: Event) -> uuid.UUID:
    return await scenario.given(Product, TEAPOT, *events).record()


def test_the_caller_names_no_price() -> None:
    assert set(AddItem.model_fields) == {"product_id", "quantity"}


async def test_an_item_takes_the_catalogue_price(scenario: Scenario) -> None:
    teapot = await _product(scenario, ProductPublished())
    outcome = await scenario.given(SalesOrder, PLACED).when(AddItem(product_id=teapot, quantity=2))

    assert outcome.events == [
        ItemAdded(
            product_id=teapot,
            quantity=2,
            sku="TEA-1",
            unit_price=Decimal("12.50"),
            amount=Decimal("25.00"),
        )
    ]
    assert outcome.state.total == Decimal("25.00")
    assert outcome.state.lines == [
        {"product_id": str(teapot), "sku": "TEA-1", "quantity": 2, "unit_price": "12.50"}
    ]


async def test_a_discontinued_product_is_refused(scenario: Scenario) -> None:
    teapot = await _product(scenario, ProductPublished(), ProductDiscontinued())
    with pytest.raises(Rejected, match="Teapot is no longer sold") as refused:
        await scenario.given(SalesOrder, PLACED).when(AddItem(product_id=teapot, quantity=1))
    assert refused.value.code == "product-retired"


async def test_a_draft_product_is_refused(scenario: Scenario) -> None:
    teapot = await _product(scenario)
    with pytest.raises(Rejected, match="Teapot is not on sale yet") as refused:
        await scenario.given(SalesOrder, PLACED).when(AddItem(product_id=teapot, quantity=1))
    assert refused.value.code == "product-not-on-sale"
