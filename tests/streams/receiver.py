"""A webhook endpoint on loopback that checks each request's Standard Webhooks signature."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SECRET = "whsec_" + base64.b64encode(b"a secret of the test's own, 32 by").decode()


class Receiver:
    """Keeps every envelope it accepts; refuses the events in `refused`, and fails the first
    `failing` requests, with a 503."""

    def __init__(self, failing: int = 0) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.refused: set[str] = set()
        self.failing = failing
        self.requests = 0
        self.url = ""

    async def receive(self, request: Request) -> Response:
        self.requests += 1
        body = await request.body()
        message_id = request.headers["webhook-id"]
        timestamp = request.headers["webhook-timestamp"]
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        expected = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
        signatures = request.headers["webhook-signature"].split(" ")
        if "v1," + base64.b64encode(expected.digest()).decode() not in signatures:
            return Response(status_code=401)
        envelope = json.loads(body)
        assert envelope["id"] == message_id
        if self.failing > 0 or message_id in self.refused:
            self.failing -= 1
            return Response(status_code=503)
        self.envelopes.append(envelope)
        return Response(status_code=204)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Serve `receiver` on a free loopback port while the block runs."""
    app = Starlette(routes=[Route("/hooks/money", receiver.receive, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks/money"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn has no event for it)
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
