"""NATS JetStream: subjects `<project>.<stream>.<domain>.<event>` in the JetStream stream
`<project>_<stream>`, created when missing; `Nats-Msg-Id` (the event id) lets JetStream drop
a message published twice within its duplicate window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import nats
from nats.js.errors import NotFoundError

from fluvius.streams.publishers import TIMEOUT_S, Failure, Target

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

    from fluvius.streams.envelope import Message


def jetstream_name(target: Target) -> str:
    """The JetStream stream of a target (stream names may not hold dots)."""
    return f"{target.project}_{target.stream}"


def subject_prefix(target: Target) -> str:
    """The subjects of a target's messages start with this."""
    return f"{target.project}.{target.stream}"


class NatsPublisher:
    """Publishes a batch without waiting between messages, then waits for every ack."""

    def __init__(self, url: str, target: Target) -> None:
        self.url = url
        self.target = target
        self.prefix = subject_prefix(target)
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        jetstream = await self._connect()
        acks = [
            await jetstream.publish_async(
                f"{self.prefix}.{m.domain}.{m.event}", m.body, headers={"Nats-Msg-Id": m.id}
            )
            for m in messages
        ]
        await asyncio.wait_for(asyncio.gather(*acks), TIMEOUT_S)
        return []

    async def close(self) -> None:
        client, self._client, self._jetstream = self._client, None, None
        if client is not None:
            await client.close()

    async def _connect(self) -> JetStreamContext:
        if self._jetstream is None:
            client = await nats.connect(
                self.url, connect_timeout=TIMEOUT_S, allow_reconnect=False, max_reconnect_attempts=0
            )
            jetstream = client.jetstream(timeout=TIMEOUT_S)
            name = jetstream_name(self.target)
            try:
                await jetstream.stream_info(name)
            except NotFoundError:
                await jetstream.add_stream(name=name, subjects=[f"{self.prefix}.>"])
            self._client, self._jetstream = client, jetstream
        return self._jetstream
