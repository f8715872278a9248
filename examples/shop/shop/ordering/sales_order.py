"""Business rules of ordering.sales_order: an item is priced from the catalogue.

`add-item` names a product and a quantity, never a price: the handler reads the product
(`await self.read(Product, ...)`, in the command's transaction) and records its current price,
or refuses a product that is not on sale. `apply_item_added` keeps the lines of the order.
"""

from typing import Any

from fluvius.domain import Event, Rejected

from shop.catalog.product import Product
from shop.ordering._generated.sales_order import (
    AddItem,
    ItemAdded,
    SalesOrderBase,
    SalesOrderState,
)


class SalesOrder(SalesOrderBase):
    """ordering.sales_order, with the rules of the business on top of the spec's."""

    async def add_item(self, command: AddItem) -> list[Event]:  # type: ignore[override]
        product = await self.read(Product, command.product_id)
        if product is None:  # its ref was checked: it was there when the command came in
            raise Rejected("unknown-product", f"product {command.product_id} does not exist")
        if product.status == "discontinued":
            raise Rejected("product-retired", f"{product.title} is no longer sold")
        if product.status != "active" or product.price is None:
            raise Rejected("product-not-on-sale", f"{product.title} is not on sale yet")
        priced = {
            "sku": product.sku,
            "unit_price": product.price,
            "amount": product.price * command.quantity,
        }
        return [event.model_copy(update=priced) for event in super().add_item(command)]

    def apply_item_added(self, event: ItemAdded) -> SalesOrderState:
        line = {
            "product_id": str(event.product_id),
            "sku": event.sku,
            "quantity": event.quantity,
            "unit_price": str(event.unit_price),
        }
        lines: list[Any] = self.state.lines or []  # type: ignore[assignment]
        totalled = super().apply_item_added(event)
        return totalled.evolve(lines=[*lines, line])
