"""Business rules that see the world, without HTTP, on PostgreSQL: what `self.read` of another
aggregate costs a command, and what an `async def` handler costs over a plain one.

A basket takes one of three commands, which record the same event:

- `add-item`: a plain handler that reads nothing (the floor);
- `add-checked-item`: an async handler that awaits `self.read(Product, id)` of one product, in
  the command's transaction, and refuses a retired one;
- `add-item-async`: an `async def` handler that awaits nothing.

Each client is an asyncio task adding items to a basket of its own in a closed loop through
`CommandProcessor.execute`, so no client waits on another's row lock; every client reads the same
product (a read locks nothing). In each round the variants run one after the other, their order
rotating from round to round; a table shows the median commands/s of the rounds, and the latency
percentiles of all their commands.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Integer, String

from bench.postgres import scratch_database
from bench.report import percentile, show
from fluvius.application.processor import CommandProcessor
from fluvius.data import Database, Storage, domain_log, map_aggregate, new_metadata, state_table
from fluvius.domain import Aggregate, Command, Event, Rejected, State, applies, handles

metadata = new_metadata()
log = domain_log(metadata, "bench_rules")
products = state_table(
    metadata,
    "bench_rules_product",
    Column("title", String(80)),
    Column("retired", Boolean, nullable=False),
    tenancy=False,
)
baskets = state_table(
    metadata, "bench_rules_basket", Column("items", Integer, nullable=False), tenancy=False
)


class ProductState(State):
    title: str | None = None
    retired: bool = False


class BasketState(State):
    items: int = 0


class AddProduct(Command, name="add-product"):
    title: str


class OpenBasket(Command, name="open-basket"):
    pass


class AddItem(Command, name="add-item"):
    product_id: uuid.UUID


class AddCheckedItem(Command, name="add-checked-item"):
    product_id: uuid.UUID


class AddItemAsync(Command, name="add-item-async"):
    product_id: uuid.UUID


class ProductAdded(Event, name="product-added"):
    title: str


class BasketOpened(Event, name="basket-opened"):
    pass


class ItemAdded(Event, name="item-added"):
    product_id: uuid.UUID


class Product(Aggregate[ProductState]):
    domain = "bench_rules"
    name = "product"
    state_type = ProductState

    @handles(AddProduct, create=True)
    def add_product(self, command: AddProduct) -> list[Event]:
        return [ProductAdded(title=command.title)]

    @applies(ProductAdded)
    def apply_product_added(self, event: ProductAdded) -> ProductState:
        return self.state.evolve(title=event.title)


class Basket(Aggregate[BasketState]):
    domain = "bench_rules"
    name = "basket"
    state_type = BasketState

    @handles(OpenBasket, create=True)
    def open_basket(self, command: OpenBasket) -> list[Event]:
        return [BasketOpened()]

    @handles(AddItem)
    def add_item(self, command: AddItem) -> list[Event]:
        return [ItemAdded(product_id=command.product_id)]

    @handles(AddCheckedItem)
    async def add_checked_item(self, command: AddCheckedItem) -> list[Event]:
        product = await self.read(Product, command.product_id)
        if product is None or product.retired:
            raise Rejected("not-sold", f"product {command.product_id} is not sold")
        return [ItemAdded(product_id=command.product_id)]

    @handles(AddItemAsync)
    async def add_item_async(self, command: AddItemAsync) -> list[Event]:
        return [ItemAdded(product_id=command.product_id)]

    @applies(BasketOpened)
    def apply_basket_opened(self, event: BasketOpened) -> BasketState:
        return self.state

    @applies(ItemAdded)
    def apply_item_added(self, event: ItemAdded) -> BasketState:
        return self.state.evolve(items=self.state.items + 1)


map_aggregate(Product, Storage(products, log))
map_aggregate(Basket, Storage(baskets, log))

Variant = Callable[[uuid.UUID], Command]
VARIANTS: dict[str, Variant] = {
    "no read": lambda product: AddItem(product_id=product),
    "reads one": lambda product: AddCheckedItem(product_id=product),
    "async": lambda product: AddItemAsync(product_id=product),
}
COMPARISONS = (
    ("A command whose rule reads one other aggregate (self.read) vs one that does not",
     "no read", "reads one"),
    ("An async handler with no awaits vs a plain one", "no read", "async"),
)  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """Client counts, rounds, and the seconds each variant runs per round (after a warm-up)."""

    clients: tuple[int, ...]
    rounds: int
    duration_s: float
    warmup_s: float


POOL_SIZE = 10  # connections: the 32 clients queue for them, as requests do in a service

FULL = Sizes(clients=(1, 32), rounds=5, duration_s=4.0, warmup_s=1.0)
QUICK = Sizes(clients=(1, 32), rounds=1, duration_s=0.3, warmup_s=0.1)


@dataclass(frozen=True)
class Run:
    """One measured run of a variant: its wall time and every command's latency (s)."""

    elapsed: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def main(quick: bool = False) -> None:
    """Print one table per comparison."""
    sizes = QUICK if quick else FULL
    runs = asyncio.run(_measure(sizes))
    for title, a, b in COMPARISONS:
        show(
            f"{title}: (a) {a}, (b) {b}",
            ("clients", "a cmd/s", "p50 ms", "p99 ms", "b cmd/s", "p50 ms", "p99 ms", "a/b"),
            [_row(clients, runs[a, clients], runs[b, clients]) for clients in sizes.clients],
            f"{sizes.duration_s:g} s per variant after {sizes.warmup_s:g} s of warm-up, "
            f"{sizes.rounds} rounds; a client adds items to its own basket in a closed loop, "
            f"over {POOL_SIZE} connections; a/b: how many times slower b is",
        )


async def _measure(sizes: Sizes) -> dict[tuple[str, int], list[Run]]:
    runs: dict[tuple[str, int], list[Run]] = {}
    async with scratch_database() as url:
        database = Database(url, pool_size=POOL_SIZE)
        try:
            async with database.write.begin() as connection:
                await connection.run_sync(metadata.create_all)
            processor = CommandProcessor(database)
            product = (await processor.execute(Product, AddProduct(title="kettle"))).aggregate_id
            opened = [processor.execute(Basket, OpenBasket()) for _ in range(max(sizes.clients))]
            basket_ids = [result.aggregate_id for result in await asyncio.gather(*opened)]
            names = list(VARIANTS)
            for clients in sizes.clients:
                for round_number in range(sizes.rounds):
                    shift = round_number % len(names)
                    for name in names[shift:] + names[:shift]:
                        command = VARIANTS[name](product)
                        run = await _run(processor, basket_ids[:clients], command, sizes)
                        runs.setdefault((name, clients), []).append(run)
        finally:
            await database.dispose()
    return runs


async def _run(
    processor: CommandProcessor, baskets: list[uuid.UUID], command: Command, sizes: Sizes
) -> Run:
    """Every client sends `command` to its basket until the time is up; only commands that
    start after the warm-up count."""
    started = time.perf_counter()
    measured_from = started + sizes.warmup_s
    deadline = measured_from + sizes.duration_s
    latencies: list[float] = []

    async def client(basket: uuid.UUID) -> None:
        while (now := time.perf_counter()) < deadline:
            await processor.execute(Basket, command, basket)
            if now >= measured_from:
                latencies.append(time.perf_counter() - now)

    await asyncio.gather(*(client(basket) for basket in baskets))
    return Run(time.perf_counter() - measured_from, latencies)


def _row(clients: int, a: list[Run], b: list[Run]) -> list[object]:
    mine, theirs = _summary(a), _summary(b)
    return [clients, *mine, *theirs, mine[0] / theirs[0]]


def _summary(runs: list[Run]) -> list[float]:
    """The median commands/s of `runs`, and the p50 and p99 latency of all their commands, ms."""
    latencies = [latency for run in runs for latency in run.latencies]
    return [
        statistics.median(run.rate for run in runs),
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
    ]
