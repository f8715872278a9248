"""AMQP 0-9-1 (RabbitMQ): a durable topic exchange `<project>.<stream>`, routing keys
`<domain>.<event>`; persistent messages whose `message_id` is the event id, confirmed by the
broker (publisher confirms). Consumers bind their own queues to the exchange."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aio_pika

from fluvius.streams.envelope import CONTENT_TYPE
from fluvius.streams.publishers import TIMEOUT_S, Failure, Target

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection, AbstractExchange

    from fluvius.streams.envelope import Message


def exchange_name(target: Target) -> str:
    """The exchange of a target."""
    return f"{target.project}.{target.stream}"


class AmqpPublisher:
    """Publishes a batch without waiting between messages, then waits for every confirm."""

    def __init__(self, url: str, target: Target) -> None:
        self.url = url
        self.exchange_name = exchange_name(target)
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        exchange = await self._connect()
        confirms = [
            exchange.publish(
                aio_pika.Message(
                    m.body,
                    message_id=m.id,
                    content_type=CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=f"{m.domain}.{m.event}",
                timeout=TIMEOUT_S,
            )
            for m in messages
        ]
        await asyncio.gather(*confirms)
        return []

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            await connection.close()

    async def _connect(self) -> AbstractExchange:
        if self._exchange is None:
            connection = await aio_pika.connect(self.url, timeout=TIMEOUT_S)
            channel = await connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self._connection = connection
        return self._exchange
