"""A service's real app, served by uvicorn on a free local port, with HTTP and WebSocket
clients of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from fluvius.fastapi.app import build_app
from fluvius.fastapi.auth import mint_token
from fluvius.service import Service
from fluvius.settings import Settings


class Served:
    """One running instance of the service."""

    def __init__(self, app: FastAPI, settings: Settings, port: int) -> None:
        self.app = app
        self.settings = settings
        self.base_url = f"http://127.0.0.1:{port}"
        self.live_url = f"ws://127.0.0.1:{port}/live"

    def token(self, role: str, sub: str = "teller-1", **kwargs: Any) -> str:
        return mint_token(self.settings, sub, (role,), **kwargs)

    def http(self, role: str = "teller", sub: str = "teller-1") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(role, sub)}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)

    @asynccontextmanager
    async def socket(
        self, token: str | None = None, *, header: bool = False
    ) -> AsyncIterator[ClientConnection]:
        """A `/live` connection, authenticated by `token` in the header or a first message.

        The client buffers whatever arrives (no max_queue): one that leaves with messages unread
        closes at once, where a bounded client stops reading and waits out its close timeout
        (10 s) for the server's close frame queued behind them."""
        headers = {"Authorization": f"Bearer {token}"} if header and token else None
        async with connect(
            self.live_url, additional_headers=headers, max_size=None, max_queue=None
        ) as ws:
            if token and not header:
                await ws.send(json.dumps({"type": "auth", "token": token}))
            yield ws


@asynccontextmanager
async def serve(service: Service, settings: Settings) -> AsyncIterator[Served]:
    """`service` on a free port for the duration of the block."""
    app = build_app(service, settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(app, settings, port)
    finally:
        server.should_exit = True
        await task


async def receive(ws: ClientConnection, within: float = 60) -> dict[str, Any]:
    """The next message, decoded. On PostgreSQL a long transaction anywhere on the server holds
    live feeds back (fluvius.data.horizon), hence the generous wait on a shared server."""
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def closed_with(ws: ClientConnection) -> int | None:
    """The code the server closes `ws` with (messages before it are skipped)."""
    async with asyncio.timeout(30):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code


async def subscribe(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    """Subscribe and return the reply."""
    await ws.send(json.dumps({"type": "subscribe", **fields}))
    return await receive(ws)
