"""A closed-loop HTTP/1.1 load generator that runs in a process of its own.

`run(load)` starts `python -m bench.loadgen`, hands it the load as JSON on stdin and reads the
outcome as JSON from stdout, so the client never competes with the bench for the interpreter.
Each connection is kept alive and sends its own requests in turn, one at a time; requests sent
during the warm-up are not counted. `send_all` is the same client for setup requests.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from bench.report import percentile

HOST = "127.0.0.1"
OK_STATUSES = (200, 201)
Headers = tuple[tuple[str, str], ...]
"""HTTP headers as (name, value) pairs, in order."""


@dataclass(frozen=True)
class Request:
    """One HTTP request, sent as is on a keep-alive connection."""

    method: str
    path: str
    body: str = ""
    headers: Headers = ()

    def encode(self) -> bytes:
        """The request's bytes on the wire."""
        body = self.body.encode()
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {HOST}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Load:
    """What to send: each connection cycles through its own list of requests."""

    port: int
    connections: list[list[Request]]
    duration_s: float
    warmup_s: float


@dataclass(frozen=True)
class Outcome:
    """What a load run measured, over `seconds` after the warm-up: from `started_at`
    (time.monotonic(), the same clock in every process of the machine), during which the load
    generator itself used `cpu_seconds` of CPU time."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    started_at: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


class Connection(asyncio.Protocol):
    """One keep-alive connection that sends a request and waits for its reply."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._reply: asyncio.Future[tuple[int, bytes]] | None = None
        self._transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, port: int) -> Connection:
        """A connection to the server at `port` on this machine."""
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, HOST, port)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._reply is not None and not self._reply.done():
            reply = self._take_reply()
            if reply is not None:
                self._reply.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(ConnectionError("the server closed the connection"))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send `request` (encoded) and wait for the status and body of the reply."""
        if self._transport is None:
            raise ConnectionError("the connection is closed")
        self._reply = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._reply

    def close(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()

    def _take_reply(self) -> tuple[int, bytes] | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self._buffer[:end]).lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
        total = end + 4 + length
        if len(self._buffer) < total:
            return None
        status = int(head.split(b" ", 2)[1])
        body = bytes(self._buffer[end + 4 : total])
        del self._buffer[:total]
        return status, body


async def send_all(
    port: int, requests: Sequence[Request], connections: int
) -> list[tuple[int, bytes]]:
    """Send `requests` over `connections` connections at once; the replies in request order."""
    replies: list[tuple[int, bytes]] = [(0, b"")] * len(requests)

    async def one_connection(offset: int) -> None:
        connection = await Connection.open(port)
        try:
            for index in range(offset, len(requests), connections):
                replies[index] = await connection.send(requests[index].encode())
        finally:
            connection.close()

    await asyncio.gather(*(one_connection(offset) for offset in range(connections)))
    return replies


async def run(
    load: Load, *, every_s: float = 0.2, tick: Callable[[], None] | None = None
) -> Outcome:
    """Apply `load` from a process of its own; call `tick` every `every_s` while it runs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        communicating = asyncio.ensure_future(process.communicate(_dump(load).encode()))
        while not communicating.done():
            if tick is not None:
                tick()
            await asyncio.wait([communicating], timeout=every_s)
        output, errors = communicating.result()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{errors.decode()}")
    return Outcome(**json.loads(output))


async def _apply(load: Load) -> Outcome:
    """Drive every connection in a closed loop and measure the replies after the warm-up."""
    connections = [await Connection.open(load.port) for _ in load.connections]
    started_at = time.monotonic() + load.warmup_s
    started = time.perf_counter() + load.warmup_s
    until = started + load.duration_s
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures = 0

    async def drive(connection: Connection, requests: list[Request]) -> None:
        nonlocal failures
        encoded = [request.encode() for request in requests]
        index = 0
        while (sent := time.perf_counter()) < until:
            try:
                status, _ = await connection.send(encoded[index % len(encoded)])
            except ConnectionError:
                failures += 1
                connection = await Connection.open(load.port)
                continue
            index += 1
            done = time.perf_counter()
            if sent >= started and done <= until:
                statuses[status] += 1
                if status in OK_STATUSES:
                    latencies.append(done - sent)
        connection.close()

    async def cpu_in_window() -> float:
        await asyncio.sleep(started - time.perf_counter())
        before = time.process_time()
        await asyncio.sleep(until - time.perf_counter())
        return time.process_time() - before

    cpu = asyncio.ensure_future(cpu_in_window())
    await asyncio.gather(*map(drive, connections, load.connections))
    return Outcome(
        requests=len(latencies),
        errors=failures + sum(n for status, n in statuses.items() if status not in OK_STATUSES),
        seconds=load.duration_s,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        statuses={str(status): n for status, n in sorted(statuses.items())},
        started_at=started_at,
        cpu_seconds=await cpu,
    )


def _dump(load: Load) -> str:
    return json.dumps(asdict(load))


def _load(text: str) -> Load:
    raw: dict[str, Any] = json.loads(text)
    connections = [
        [
            Request(item["method"], item["path"], item["body"], tuple(map(tuple, item["headers"])))
            for item in requests
        ]
        for requests in raw.pop("connections")
    ]
    return Load(connections=connections, **raw)


def main() -> None:
    """Read a Load as JSON on stdin, apply it, write the Outcome as JSON on stdout."""
    import uvloop

    load = _load(sys.stdin.read())
    outcome = uvloop.run(_apply(load))
    print(json.dumps(asdict(outcome)))


if __name__ == "__main__":
    main()
