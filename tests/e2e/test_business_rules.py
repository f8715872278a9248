"""Business rules of a generated project: `self.read` of other aggregates and the services built
at start-up (`self.services`, `ctx.services`) through its HTTP app, its own tests of them, and
misspelt overrides caught early."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fluvius.domain.lookalikes import MisnamedMethod
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import (
    assert_linters_pass,
    fluvius,
    fluvius_fails,
    import_service,
    run_pytest,
    served,
)

pytestmark = pytest.mark.slow

SPEC = Path(__file__).parent / "specs" / "market.yaml"
ADD_PRODUCT = "/catalog:add-product/product/:new"
RETIRE_PRODUCT = "/catalog:retire-product/product/{}"
PLACE_ORDER = "/ordering:place-order/order/:new"

ORDER_RULES = '''"""Orders price themselves from the product they name, less the discount."""

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
        price = self.services.discounts.price(product.price)
        total = price * command.quantity
        return [OrderPlaced(product_id=command.product_id, quantity=command.quantity, total=total)]
'''

SERVICES = '''"""The market's services: its discount, and a journal its workers write to."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from fluvius.settings import Settings

LIFECYCLE: list[str] = []  # each start and close of the services, for the tests to read


@dataclass(frozen=True)
class Discounts:
    """A rate taken off every price."""

    rate: Decimal

    def price(self, listed: Decimal | None) -> Decimal:
        return (listed or Decimal(0)) * (1 - self.rate)


@dataclass
class Journal:
    """Notes the workers take."""

    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Services:
    """What the market's rules and workers depend on."""

    discounts: Discounts
    journal: Journal


@asynccontextmanager
async def build_services(settings: Settings) -> AsyncIterator[Services]:
    """A ten per cent discount and an empty journal."""
    LIFECYCLE.append(f"started for {settings.jwt_audience}")
    yield Services(Discounts(Decimal("0.10")), Journal())
    LIFECYCLE.append("closed")
'''

WORKERS = '''"""Workers of the ordering domain."""

from fluvius.domain import RecordedEvent
from fluvius.worker import WorkerContext

from market.ordering._generated.order import OrderPlaced
from market.services import Services


async def note_order(event: RecordedEvent[OrderPlaced], ctx: WorkerContext) -> None:
    """Notes each order placed in the journal of the services."""
    services: Services = ctx.services
    services.journal.notes.append(str(event.aggregate_id))
'''

ORDER_TESTS = '''"""The order rules, with the product they read and the services they use given."""

from decimal import Decimal

import pytest
from fluvius.domain import Rejected
from fluvius.ids import uuid7
from fluvius.testing import Scenario

from market.catalog._generated.product import ProductState
from market.catalog.product import Product
from market.ordering._generated.order import PlaceOrder
from market.ordering.order import Order
from market.services import Discounts, Journal, Services


async def test_an_order_is_priced_from_the_product_it_reads(scenario: Scenario) -> None:
    kettle = ProductState(id=uuid7(), title="Kettle", price=Decimal("12.50"), version=1)
    half_off = Services(Discounts(Decimal("0.5")), Journal())
    given = scenario.given(Order).with_state(Product, kettle)

    outcome = await given.when(PlaceOrder(product_id=kettle.id, quantity=2), services=half_off)

    assert outcome.state.total == Decimal("12.50")


async def test_the_conftest_services_are_the_default(scenario: Scenario) -> None:
    kettle = ProductState(id=uuid7(), title="Kettle", price=Decimal("12.50"), version=1)
    given = scenario.given(Order).with_state(Product, kettle)

    outcome = await given.when(PlaceOrder(product_id=kettle.id, quantity=2))

    assert outcome.state.total == Decimal("25.00")


async def test_an_order_of_a_product_absent_from_the_tenant_is_refused(
    scenario: Scenario,
) -> None:
    with pytest.raises(Rejected, match="does not exist"):
        await scenario.given(Order).when(PlaceOrder(product_id=uuid7(), quantity=1))
'''

# The conftest's `services` fixture gives fakes: no discount.
FAKES = ("    return Services()\n", "    return Services(Discounts(Decimal(0)), Journal())\n")


@pytest.fixture(scope="module")
def market(projects: ProjectFactory) -> Path:
    """The market project, whose orders read their product and use the services."""
    root = projects.root / "rules" / "market"
    fluvius("new", "project", "market", "--spec", str(SPEC), "--dir", str(root))
    (root / "market/ordering/order.py").write_text(ORDER_RULES)
    (root / "market/services.py").write_text(SERVICES)
    (root / "market/ordering/workers.py").write_text(WORKERS)
    (root / "tests/test_ordering_order.py").write_text(ORDER_TESTS)
    conftest = (root / "tests/conftest.py").read_text().replace(*FAKES)
    imports = "from market.services import Discounts, Journal, Services"
    conftest = conftest.replace("from market.services import Services", imports)
    (root / "tests/conftest.py").write_text(
        conftest.replace("import pytest\n", "from decimal import Decimal\n\nimport pytest\n")
    )
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
        assert Decimal(state["total"]) == Decimal("33.75")  # 3 x 12.50, less 10 %

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


async def test_services_are_built_once_for_handlers_and_workers_and_closed_at_shutdown(
    market: Path, database_url: str
) -> None:
    service = import_service(market, "market")
    lifecycle: list[str] = sys.modules["market.services"].LIFECYCLE
    changes = {"workers_in_process": True, "worker_poll_s": 0.05}
    async with (
        served(service, database_url, **changes) as api,
        api.client("merchandiser") as merchandiser,
        api.client("customer") as customer,
    ):
        assert lifecycle == ["started for market"]
        added = await merchandiser.post(ADD_PRODUCT, json={"title": "Kettle", "price": "10"})
        product = (await _data(added, 201))["id"]
        orders = []
        for quantity in (1, 2):
            body = {"product_id": product, "quantity": quantity}
            orders.append((await _data(await customer.post(PLACE_ORDER, json=body), 201))["id"])

        journal = api.app.state.runtime.processor.services.journal
        for _ in range(600):
            if len(journal.notes) == len(orders):
                break
            await asyncio.sleep(0.05)
        assert sorted(journal.notes) == sorted(orders)
        assert lifecycle == ["started for market"]
    assert lifecycle == ["started for market", "closed"]


def test_the_project_s_tests_give_other_states_and_fake_services_and_pass_the_linters(
    market: Path,
) -> None:
    """The project's own tests: the scenario stores the product an order reads, and runs it
    with fake services, given per command or by the conftest's `services` fixture."""
    tests = run_pytest(market, "tests/test_ordering_order.py")

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout, tests.stdout
    assert_linters_pass(market)


MISSPELT = '''

    def withdrawl(self, command: Withdraw) -> list[Event]:
        """Meant to override withdraw: it never would run."""
        return super().withdraw(command)
'''


def test_a_misspelt_override_fails_generation_start_and_tests(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("bank", tmp_path)
    rules = root / "bank/banking/account.py"
    lines = rules.read_text().replace(
        "from bank.banking._generated.account import AccountBase",
        "from fluvius.domain import Event\n\n"
        "from bank.banking._generated.account import AccountBase, Withdraw",
    )
    rules.write_text(lines + MISSPELT)
    line = rules.read_text().splitlines().index(MISSPELT.splitlines()[2]) + 1

    output = fluvius_fails("generate", cwd=root)
    assert (
        f"bank/banking/account.py:{line}:9: FV501 method 'withdrawl' of banking.account" in output
    )
    assert "did you mean 'withdraw'?" in output

    with pytest.raises(MisnamedMethod, match=rf"account\.py:{line}: method 'withdrawl'"):
        import_service(root, "bank")

    tests = run_pytest(root, "tests/test_banking_account.py")
    assert tests.returncode != 0
    assert "MisnamedMethod" in tests.stdout + tests.stderr
