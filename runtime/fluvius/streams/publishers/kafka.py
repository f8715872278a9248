"""Kafka (untested here: no server on the development machines): topic `<project>.<stream>`,
keyed by the aggregate id so one aggregate's events keep their order in one partition; the
event id is the `id` header. Needs the `kafka` extra (aiokafka); acks from all replicas
and an idempotent producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fluvius.settings import SettingsError
from fluvius.streams.envelope import CONTENT_TYPE
from fluvius.streams.publishers import TIMEOUT_S, Failure, Target

if TYPE_CHECKING:
    from fluvius.streams.envelope import Message


def topic_name(target: Target) -> str:
    """The topic of a target."""
    return f"{target.project}.{target.stream}"


class KafkaPublisher:
    """Sends a batch without waiting between messages, then waits for every ack."""

    def __init__(self, url: str, target: Target) -> None:
        self.servers = urlsplit(url).netloc
        self.topic = topic_name(target)
        self._producer: Any = None

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        producer = await self._connect()
        sent = [
            await producer.send(
                self.topic,
                m.body,
                key=m.key.encode(),
                headers=[("id", m.id.encode()), ("content-type", CONTENT_TYPE.encode())],
            )
            for m in messages
        ]
        await asyncio.wait_for(asyncio.gather(*sent), TIMEOUT_S)
        return []

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def _connect(self) -> Any:
        if self._producer is None:
            try:
                from aiokafka import AIOKafkaProducer
            except ImportError:
                raise SettingsError(
                    'a kafka:// stream needs aiokafka: pip install "fluvius[kafka]"'
                ) from None
            producer = AIOKafkaProducer(
                bootstrap_servers=self.servers, acks="all", enable_idempotence=True
            )
            await producer.start()
            self._producer = producer
        return self._producer
