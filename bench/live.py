"""Live feeds: subscribers of `/live` on one instance on PostgreSQL, while commands run.

For each of FAN_OUTS, a server of the generated bank service (`fluvius run`, one uvicorn worker)
with SUBSCRIBERS / fan-out accounts. SUBSCRIBERS WebSocket connections each subscribe to one
account (a teller's token), so that each account has fan-out subscribers, and the server's RSS
gives the memory of an idle subscriber; deposits are paced at each of RATES a second for
DURATION while every subscriber receives its account's events, each one's latency taken as its
receipt time less the event's `recorded_at` (the command's start, so it includes the command's
own transaction). Throughput is a closed loop of CLIENTS clients depositing, in CYCLES cycles:
the subscribers connect and subscribe, the loop runs, they close, and once their feed has
stopped the loop runs without them; one more loop runs before the first cycle. On a shared
machine successive ten-second loops vary by a fifth, so each loop with subscribers is set
against the mean of the loops without them just before and after it, and the median of those
ratios is reported. Each closed loop also gives the server's CPU time per deposit: the
subscribers' clients run on the same machine (they only receive during the loops; latencies
are taken in the paced runs), so the rates alone mix their cost with the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, median

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
CYCLES = 4  # closed loops with subscribers, each between two without
PACING_CONNECTIONS = 32
OPENING = '{"owner": "c%d", "initial_deposit": "1", "opened_on": "2026-01-01"}'


def main(quick: bool = False) -> None:
    """Print the live table."""
    asyncio.run(_main(quick))


async def _main(quick: bool) -> None:
    subscribers = QUICK_SUBSCRIBERS if quick else SUBSCRIBERS
    duration = QUICK_DURATION if quick else DURATION
    cycles = 1 if quick else CYCLES
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
                    passes.append(await _measure(server, root, ids, subscribers, duration, cycles))
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
        f"{duration:g} s; throughput: {CLIENTS} clients depositing in a closed loop, and the "
        "server's CPU time per deposit (the subscribers' clients share the machine: CPU per "
        f"command tells the server's own cost); with subscribers in {cycles} loop(s), each "
        "set against the loops without them just before and after it (the ratios' median, "
        "then their range).",
    )


@dataclass
class Receipts:
    """The latencies of the events the subscribers receive, taken only while `recording`: the
    closed loops leave the subscribers' clients, which share the machine, just receiving."""

    recording: bool = False
    latencies: list[float] = field(default_factory=list)


async def _measure(
    server: Server, root: Path, ids: list[str], subscribers: int, duration: float, cycles: int
) -> list[tuple[str, object]]:
    """The closed loop's rate and CPU per command with nobody subscribed and with
    `subscribers` following the accounts `ids` in turn, in `cycles` that each connect them, run
    the loop, close them and, once their feed has stopped, run the loop without them: each
    figure with them is set against the mean of the runs without them just before and after,
    and the median of those ratios is reported, so that the machine's drift and noise weigh on
    both alike. In the first cycle also the subscribers' idle memory, and delivery latencies at
    each of RATES."""
    headers = bearer_headers(root)
    token = headers[0][1].removeprefix("Bearer ")
    alone = [await _throughput(server, ids, headers, duration)]
    shared: list[tuple[float, float]] = []
    paced: list[tuple[float, int, list[float]]] = []
    per_subscriber = math.nan
    for cycle in range(cycles):
        before = server.rss_bytes()
        receipts = Receipts()
        async with _subscribed(server.port, ids, token, subscribers, receipts):
            await asyncio.sleep(1)
            if cycle == 0:
                per_subscriber = (server.rss_bytes() - before) / subscribers
            shared.append(await _throughput(server, ids, headers, duration))
            for rate in RATES if cycle == 0 else ():
                receipts.latencies, receipts.recording = [], True
                sent = await _paced(server.port, ids, headers, duration, rate)
                await asyncio.sleep(2)
                receipts.recording = False
                paced.append((rate, sent, receipts.latencies))
        await asyncio.sleep(IDLE_FEED_S + 1)  # the feed stops
        alone.append(await _throughput(server, ids, headers, duration))
    rows: list[tuple[str, object]] = [
        ("commands/s, no subscriber (closed loop, mean)", fmean(rate for rate, _ in alone)),
        ("commands/s, subscribers connected (closed loop, mean)", fmean(r for r, _ in shared)),
        ("commands with / without subscribers (median ratio)", _ratio(alone, shared, 0)),
        ("server CPU ms per command, no subscriber (mean)", fmean(cpu for _, cpu in alone)),
        ("server CPU ms per command, subscribers (mean)", fmean(cpu for _, cpu in shared)),
        ("server CPU per command with / without (median ratio)", _ratio(alone, shared, 1)),
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


def _ratio(alone: list[tuple[float, float]], shared: list[tuple[float, float]], at: int) -> str:
    """The median, over the runs with subscribers, of each one's figure `at` against the mean
    of the runs without them just before and after it, as a percentage; then their range."""
    ratios = [
        with_them[at] * 2 / (before[at] + after[at])
        for before, with_them, after in zip(alone, shared, alone[1:], strict=False)
    ]
    return f"{median(ratios):.0%} ({min(ratios):.0%}–{max(ratios):.0%})"


@contextlib.asynccontextmanager
async def _subscribed(
    port: int, ids: list[str], token: str, subscribers: int, receipts: Receipts
) -> AsyncIterator[None]:
    """`subscribers` WebSocket connections, each subscribed to one of the accounts `ids` in
    turn and receiving; closed at the end."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        for n in range(subscribers):
            ws = await stack.enter_async_context(
                connect(f"ws://127.0.0.1:{port}/live", max_size=None)
            )
            await ws.send(json.dumps({"type": "auth", "token": token}))
            subscribe = {"type": "subscribe", "id": "s", "resource": "banking.account"}
            await ws.send(json.dumps({**subscribe, "aggregate_id": ids[n % len(ids)]}))
            sockets.append(ws)
        for ws in sockets:
            assert json.loads(await ws.recv())["type"] == "subscribed"
        readers = [asyncio.create_task(_read(ws, receipts)) for ws in sockets]
        try:
            yield
        finally:
            for reader in readers:
                reader.cancel()


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


async def _read(ws: ClientConnection, receipts: Receipts) -> None:
    async for text in ws:
        if receipts.recording and (message := json.loads(text))["type"] == "event":
            recorded = dt.datetime.fromisoformat(message["event"]["recorded_at"])
            now = dt.datetime.now(dt.UTC)
            receipts.latencies.append((now - recorded).total_seconds() * 1000)
