"""NATS JetStream: subjects `<project>.<stream>.<domain>.<event>` in the JetStream stream
`<project>_<stream>`, created when missing; `Nats-Msg-Id` (the event id) lets JetStream drop
a message published twice within its duplicate window."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import nats
from nats.js.errors import NotFoundError

from fluvius.streams.publishers import TIMEOUT_S, Failure, Target

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from fluvius.streams.envelope import Message


def jetstream_name(target: Target) -> str:
    """The JetStream stream of a target (stream names may not hold dots)."""
    return f"{target.project}_{target.stream}"


def subject_prefix(target: Target) -> str:
    """The subjects of a target's messages start with this."""
    return f"{target.project}.{target.stream}"


class _Batch:
    """The acks a batch awaits: `done` resolves once each message has one, or on an error."""

    def __init__(self, number: int, size: int) -> None:
        self.number = number
        self.waiting = set(range(size))
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not size:
            self.done.set_result(None)

    def ack(self, index: int, reply: Msg) -> None:
        if self.done.done():
            return
        if not _stored(reply.data):
            answer = json.loads(reply.data) if reply.data else {}
            status = (reply.headers or {}).get("Status", "")
            error = answer.get("error") or f"no ack (status {status or 'none'})"
            self.done.set_exception(RuntimeError(f"JetStream did not store a message: {error}"))
            return
        self.waiting.discard(index)
        if not self.waiting:
            self.done.set_result(None)


def _stored(reply: bytes) -> bool:
    """True when `reply` is JetStream's ack of a stored message (`{"stream":...,"seq":...}`),
    told from an error or an empty status reply on the bytes: a batch has thousands of acks."""
    return b'"seq":' in reply and b'"error"' not in reply


class NatsPublisher:
    """Publishes a batch without waiting between messages (each with a reply subject of its
    own under one inbox), then waits for every JetStream ack."""

    def __init__(self, url: str, target: Target) -> None:
        self.url = url
        self.target = target
        self.prefix = subject_prefix(target)
        self._client: Client | None = None
        self._inbox = ""
        self._batch: _Batch | None = None
        self._batches = 0

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        client = await self._connect()
        self._batches += 1
        batch = self._batch = _Batch(self._batches, len(messages))
        for index, m in enumerate(messages):
            await client.publish(
                f"{self.prefix}.{m.domain}.{m.event}",
                m.body,
                reply=f"{self._inbox}.{batch.number}.{index}",
                headers={"Nats-Msg-Id": m.id},
            )
        await asyncio.wait_for(batch.done, TIMEOUT_S)
        return []

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _connect(self) -> Client:
        if self._client is None:
            client = await nats.connect(
                self.url, connect_timeout=TIMEOUT_S, allow_reconnect=False, max_reconnect_attempts=0
            )
            jetstream = client.jetstream(timeout=TIMEOUT_S)
            name = jetstream_name(self.target)
            try:
                await jetstream.stream_info(name)
            except NotFoundError:
                await jetstream.add_stream(name=name, subjects=[f"{self.prefix}.>"])
            self._inbox = client.new_inbox()
            await client.subscribe(f"{self._inbox}.*.*", cb=self._acked)
            self._client = client
        return self._client

    async def _acked(self, reply: Msg) -> None:
        """An ack: its subject names the batch and the message; acks of a batch given up on
        (a failed publish, published again since) are ignored."""
        *_, number, index = reply.subject.split(".")
        if self._batch is not None and int(number) == self._batch.number:
            self._batch.ack(int(index), reply)
