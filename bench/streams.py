"""Streams: how fast one relay publishes a backlog to NATS JetStream, and the lag from commit to
a consumer's receipt while commands run, with what the stream costs the commands.

The backlog is the replay benchmark's bank log (10,000 accounts: 100,000 events, 90,000 of them
deposits, which the `money` stream carries), COPYed into PostgreSQL. The lag run serves the
generated bank service with its in-process workers, 32 clients depositing in a closed loop, once
without the stream and once with it published to NATS, then both again with the workers (the
stream's relay among them) in a worker process of their own; a JetStream consumer takes each
message's lag as its receipt time less the event's `time` (its commit, to a millisecond or so).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from bench.postgres import scratch_database
from bench.projects import example_project, import_service
from bench.replay import DEPOSITS, Ledger, _load_postgres
from bench.report import show
from bench.underload import COLUMNS, POLL_S, Run, deposits_under_load
from fluvius.data import Database
from fluvius.streams.publishers import Target
from fluvius.streams.publishers.nats import NatsPublisher, jetstream_name
from fluvius.streams.relay import BATCH, StreamRelay

NATS_URL = "nats://127.0.0.1:4222"
ACCOUNTS, QUICK_ACCOUNTS = 10_000, 200
CLIENTS, QUICK_CLIENTS = 32, 4


def main(quick: bool = False) -> None:
    """Print the backlog table, then the lag table."""
    asyncio.run(_main(quick))


async def _main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as folder:
        backlog, lag = Path(folder) / "backlog", Path(folder) / "lag"
        async with scratch_database() as url:
            root = await asyncio.to_thread(example_project, "bank", backlog, database_url=url)
            accounts = QUICK_ACCOUNTS if quick else ACCOUNTS
            show(
                "One relay publishing a backlog to NATS JetStream",
                ("events in the log", "published", "seconds", "events/s", "relay CPU s"),
                [await _backlog(root, url, accounts)],
                f"The relay reads {BATCH:,} events a round with the gap-safe reader, publishes "
                "them without waiting between messages, then waits for every JetStream ack and "
                "saves its checkpoint. Relay CPU: the relay process's own CPU time (not "
                "PostgreSQL's, nor the NATS server's).",
            )
        async with scratch_database() as url:
            root = await asyncio.to_thread(
                example_project, "bank", lag, database_url=url, name=f"bank{uuid.uuid4().hex[:8]}"
            )  # a name of its own: its JetStream stream is its own, whatever else runs
            clients = QUICK_CLIENTS if quick else CLIENTS
            duration = (1.0, 0.3) if quick else (10.0, 2.0)
            rows = await _lag(root, url, lag, clients, duration)
            show(
                f"Deposits at {clients} clients, without and with the money stream on NATS",
                ("stream", *COLUMNS),
                rows,
                f"{duration[0]:.0f} s per run after {duration[1]:.0f} s of warm-up; workers "
                f"polling every {POLL_S} s, in the API's process, or in a worker process "
                "(`fluvius run worker`, on Redis); lag is from the event's commit to a JetStream "
                "consumer's receipt.",
            )


async def _backlog(root: Path, url: str, accounts: int) -> tuple[object, ...]:
    """Time one relay from an empty checkpoint to the end of the log."""
    bank = import_service(root, "bank")
    service = dataclasses.replace(bank, name=f"bench{uuid.uuid4().hex[:8]}")
    ledger = Ledger(service.domain("banking").aggregate("account"), accounts, transactions=False)
    await _load_postgres(url, ledger)
    (stream,) = service.streams
    target = Target(service.name, stream.name)
    database = Database(url)
    relay = StreamRelay(service, stream, database, NatsPublisher(NATS_URL, target))
    started, cpu = time.perf_counter(), time.process_time()
    while await relay.run_once():
        pass
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await relay.publisher.close()
    await database.dispose()
    published = await _drop_stream(jetstream_name(target))
    expected = accounts * DEPOSITS
    if published != expected:
        raise RuntimeError(f"JetStream holds {published} messages, not {expected}")
    return (ledger.events, published, seconds, published / seconds, cpu)


async def _lag(
    root: Path, url: str, folder: Path, clients: int, duration: tuple[float, float]
) -> list[tuple[object, ...]]:
    """The deposits' rate without the stream, then with it and the consumer's lags; workers in
    the API's process, then in a worker process."""
    name = jetstream_name(Target(root.name, "money"))
    environment = {"FLUVIUS_DATABASE_URL": url}
    rows = []
    for apart, suffix in ((False, ""), (True, ", worker process")):
        await _drop_stream(name)
        runs = (
            Run(f"off{suffix}", root, environment, worker_process=apart),
            Run(
                f"NATS{suffix}",
                root,
                {**environment, "FLUVIUS_STREAM_MONEY_URL": NATS_URL},
                lambda: _consumer(name, f"{root.name}.money.>"),
                worker_process=apart,
            ),
        )
        rows += [(await deposits_under_load(run, folder, clients, duration)).row() for run in runs]
    await _drop_stream(name)
    return rows


@asynccontextmanager
async def _consumer(name: str, subjects: str) -> AsyncIterator[list[float]]:
    """While the block runs, a JetStream consumer of `subjects` in the stream `name` takes each
    new message's lag (ms): its receipt time less the event's `time`."""
    client = await nats.connect(NATS_URL)
    lags: list[float] = []

    async def take(message: Any) -> None:
        sent = dt.datetime.fromisoformat(json.loads(message.data)["time"])
        lags.append((dt.datetime.now(dt.UTC) - sent).total_seconds() * 1000)

    try:
        jetstream = client.jetstream()
        for _ in range(100):  # the relay creates the stream on its first publish
            try:
                await jetstream.stream_info(name)
                break
            except NotFoundError:
                await asyncio.sleep(0.1)
        subscription = await jetstream.subscribe(
            subjects, cb=take, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        yield lags
        await subscription.unsubscribe()
    finally:
        await client.close()


async def _drop_stream(name: str) -> int:
    """Delete the JetStream stream `name`; how many messages it held (0 when missing)."""
    client = await nats.connect(NATS_URL)
    try:
        jetstream = client.jetstream()
        try:
            held = (await jetstream.stream_info(name)).state.messages
        except NotFoundError:
            return 0
        await jetstream.delete_stream(name)
        return held
    finally:
        await client.close()
