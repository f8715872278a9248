"""Live feeds: subscribers of `/live` on one instance on PostgreSQL, while commands run.

For each of FAN_OUTS, a server of the generated bank service (`fluvius run`, one uvicorn worker)
with SUBSCRIBERS / fan-out accounts. SUBSCRIBERS WebSocket connections each subscribe to one
account (a teller's token), so that each account has fan-out subscribers, and the server's RSS
gives the memory of an idle subscriber; deposits are paced at each of RATES a second for
DURATION while every subscriber receives its account's events, each one's latency taken as its
receipt time less the event's `recorded_at` (the command's start, so it includes the command's
own transaction). Throughput is a closed loop of CLIENTS clients depositing, run four times:
before the subscribers connect, with them before and after the paced runs, and once they have
unsubscribed and their feed has stopped; each figure is the mean of its two runs, so that a
drift of the machine over the pass weighs on both alike. Each closed loop also gives the
server's CPU time per deposit: the subscribers' clients run on the same machine, so the rates
alone mix their cost with the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import tempfile
import time
from pathlib import Path
from statistics import fmean

from websockets.asyncio.client import ClientConnection, connect

from bench import loadgen
from bench.commands import DEPOSIT
from bench.loadgen import Connection, Headers, Load, Request
from bench.postgres import scratch_database
from bench.projects import example_project
from bench.report import percentile, show
from bench.servers import Server, bearer_headers, create, fluvius_run, free_port, serve
from fluvius.fastapi.live.hub import IDLE_FEED_S

SUBSCRIBERS, QUICK_SUBSCRIBERS = 1000, 20
FAN_OUTS = (1, 10)  # subscribers per account: how many receive each event
RATES = (20.0, 200.0)  # paced commands a second
DURATION, QUICK_DURATION = 10.0, 1.0
CLIENTS = 16
PACING_CONNECTIONS = 32
OPENING = '{"owner": "c%d", "initial_deposit": "1", "opened_on": "2026-01-01"}'


def main(quick: bool = False) -> None:
    """Print the live table."""
    asyncio.run(_main(quick))


async def _main(quick: bool) -> None:
    subscribers = QUICK_SUBSCRIBERS if quick else SUBSCRIBERS
    duration = QUICK_DURATION if quick else DURATION
    with tempfile.TemporaryDirectory(prefix="bench-live-") as folder:
        async with scratch_database() as url:
            root = await asyncio.to_thread(example_project, "bank", Path(folder), database_url=url)
            headers = bearer_headers(root)
            environment = {"FLUVIUS_DATABASE_URL": url, "FLUVIUS_WORKERS": "off"}
            passes = []
            for fan_out in FAN_OUTS:  # a server each: its memory is the subscribers' alone
                port = free_port()
                async with serve(
                    fluvius_run(root, port),
                    port=port,
                    log=Path(folder) / f"live-{fan_out}.log",
                    environment=environment,
                ) as server:
                    bodies = [OPENING % n for n in range(subscribers // fan_out)]
                    ids = await create(
                        server.port, "/banking:open-account/account/:new", bodies, headers
                    )
                    passes.append(await _measure(server, root, ids, subscribers, duration))
    rows = [
        (measured[0][0], *(value for _, value in measured))  # one measure, as each pass found it
        for measured in zip(*passes, strict=True)
    ]
    show(
        f"{subscribers:,} subscribers on one instance (PostgreSQL), paced deposits",
        ("measure", *(f"{fan_out} per account" for fan_out in FAN_OUTS)),
        rows,
        f"Each subscriber follows one account (aggregate_id), which "
        f"{' or '.join(map(str, FAN_OUTS))} subscribers follow, so each event goes to that "
        "many. Latency: receipt less the event's recorded_at (the command's start), over "
        f"{duration:g} s; throughput: {CLIENTS} clients depositing in a "
        "closed loop, and the server's CPU time per deposit (the subscribers' clients share the "
        "machine: CPU per command tells the server's own cost), each the mean of two runs: "
        "without subscribers before they connect and after they leave, with them before and "
        "after the paced runs.",
    )


async def _measure(
    server: Server, root: Path, ids: list[str], subscribers: int, duration: float
) -> list[tuple[str, object]]:
    """The closed loop's rate and CPU per command with nobody subscribed and with
    `subscribers` following the accounts `ids` in turn, each the mean of two runs placed so that
    a drift of the machine over the pass weighs on both alike: without, with, (paced runs),
    with, and without again once the subscribers have left and their feed has stopped. Also
    the subscribers' idle memory, and delivery latencies at each of RATES."""
    headers = bearer_headers(root)
    token = headers[0][1].removeprefix("Bearer ")
    alone = [await _throughput(server, ids, headers, duration)]
    before = server.rss_bytes()
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        for n in range(subscribers):
            url = f"ws://127.0.0.1:{server.port}/live"
            ws = await stack.enter_async_context(connect(url, max_size=None))
            await ws.send(json.dumps({"type": "auth", "token": token}))
            subscribe = {"type": "subscribe", "id": "s", "resource": "banking.account"}
            await ws.send(json.dumps({**subscribe, "aggregate_id": ids[n % len(ids)]}))
            sockets.append(ws)
        for ws in sockets:
            assert json.loads(await ws.recv())["type"] == "subscribed"
        await asyncio.sleep(1)
        per_subscriber = (server.rss_bytes() - before) / subscribers
        latencies: list[float] = []
        readers = [asyncio.create_task(_read(ws, latencies)) for ws in sockets]
        shared = [await _throughput(server, ids, headers, duration)]
        latencies.clear()
        paced = []
        for rate in RATES:
            sent = await _paced(server.port, ids, headers, duration, rate)
            await asyncio.sleep(2)
            paced.append((rate, sent, list(latencies)))
            latencies.clear()
        shared.append(await _throughput(server, ids, headers, duration))
        for ws in sockets:
            await ws.send(json.dumps({"type": "unsubscribe", "id": "s"}))
        await asyncio.sleep(IDLE_FEED_S + 1)  # the feed stops
        alone.append(await _throughput(server, ids, headers, duration))
        for reader in readers:
            reader.cancel()
    rows: list[tuple[str, object]] = [
        ("commands/s, no subscriber (closed loop)", fmean(rate for rate, _ in alone)),
        ("commands/s, subscribers connected (closed loop)", fmean(rate for rate, _ in shared)),
        ("server CPU ms per command, no subscriber", fmean(cpu for _, cpu in alone)),
        ("server CPU ms per command, subscribers connected", fmean(cpu for _, cpu in shared)),
        ("RSS per idle subscriber KiB", per_subscriber / 1024),
    ]
    for rate, sent, received in paced:
        expected = sent * subscribers // len(ids)
        rows += [
            (
                f"at {rate:g} cmd/s: events delivered / expected",
                f"{len(received):,} / {expected:,}",
            ),
            (f"at {rate:g} cmd/s: commit-to-delivery p50 ms", percentile(received, 0.5)),
            (f"at {rate:g} cmd/s: commit-to-delivery p99 ms", percentile(received, 0.99)),
        ]
    return rows


async def _throughput(
    server: Server, ids: list[str], headers: Headers, duration: float
) -> tuple[float, float]:
    """Deposits a second in a closed loop, and the server's CPU milliseconds per deposit (over
    the warm-up too, taken at the measured rate)."""
    connections = [
        [Request("POST", f"/banking:deposit/account/{ids[n % len(ids)]}", DEPOSIT, headers)]
        for n in range(CLIENTS)
    ]
    load = Load(server.port, connections, duration_s=duration, warmup_s=min(2.0, duration / 2))
    cpu = server.cpu_seconds()
    rate = (await loadgen.run(load)).rate
    cpu = server.cpu_seconds() - cpu
    commands = rate * (load.duration_s + load.warmup_s)
    return rate, cpu * 1000 / commands if commands else math.nan


async def _paced(port: int, ids: list[str], headers: Headers, duration: float, rate: float) -> int:
    """Deposits at `rate` a second, on a pool of keep-alive connections; how many were sent."""
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(PACING_CONNECTIONS):
        free.put_nowait(await Connection.open(port))
    requests = [
        Request("POST", f"/banking:deposit/account/{account}", DEPOSIT, headers).encode()
        for account in ids
    ]
    pending: set[asyncio.Task[None]] = set()

    async def send(request: bytes) -> None:
        connection = await free.get()
        try:
            await connection.send(request)
        finally:
            free.put_nowait(connection)

    started = time.perf_counter()
    count = 0
    while (elapsed := time.perf_counter() - started) < duration:
        while count < elapsed * rate:
            task = asyncio.create_task(send(requests[count % len(requests)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            count += 1
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*pending)
    while not free.empty():
        free.get_nowait().close()
    return count


async def _read(ws: ClientConnection, latencies: list[float]) -> None:
    async for text in ws:
        message = json.loads(text)
        if message["type"] == "event":
            recorded = dt.datetime.fromisoformat(message["event"]["recorded_at"])
            latencies.append((dt.datetime.now(dt.UTC) - recorded).total_seconds() * 1000)
