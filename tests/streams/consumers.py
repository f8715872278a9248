"""Consumers of a stream on each broker, as another system would read it: each collects the
envelopes it receives, in the order received, duplicates included."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

import aio_pika
import aiomqtt
import nats
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from fluvius.streams.publishers import Target
from fluvius.streams.publishers.amqp import exchange_name
from fluvius.streams.publishers.mqtt import topic_prefix
from fluvius.streams.publishers.nats import jetstream_name, subject_prefix
from fluvius.streams.publishers.redis import stream_key
from tests.services import require
from tests.streams.receiver import Receiver, receiving

NATS_URL = "nats://127.0.0.1:4222"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
REDIS_URL = "redis://127.0.0.1:6379/0"
MQTT_URL = "mqtt://127.0.0.1:1883"


class Consumer(Protocol):
    url: str

    async def start(self, target: Target) -> None: ...

    async def received(self) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...


class NatsConsumer:
    """Reads the JetStream stream from its start."""

    url = NATS_URL

    async def start(self, target: Target) -> None:
        require("NATS", self.url, 4222)
        self.target = target
        self.client = await nats.connect(self.url)
        self.envelopes: list[dict[str, Any]] = []
        self.subscription: Any = None

    async def received(self) -> list[dict[str, Any]]:
        if self.subscription is None:  # the relay creates the stream
            jetstream = self.client.jetstream()

            async def keep(msg: Any) -> None:
                self.envelopes.append(json.loads(msg.data))
                assert msg.headers["Nats-Msg-Id"] == self.envelopes[-1]["id"]

            try:
                self.subscription = await jetstream.subscribe(
                    f"{subject_prefix(self.target)}.>", cb=keep, ordered_consumer=True
                )
            except NotFoundError:  # not yet
                return []
        return self.envelopes

    async def close(self) -> None:
        with contextlib.suppress(NotFoundError):  # the relay never made it
            await self.client.jetstream().delete_stream(jetstream_name(self.target))
        await self.client.close()


class RedisConsumer:
    """Reads the Redis stream from its start."""

    url = REDIS_URL

    async def start(self, target: Target) -> None:
        require("Redis", self.url, 6379)
        self.key = stream_key(target)
        self.redis = Redis.from_url(self.url)

    async def received(self) -> list[dict[str, Any]]:
        entries = await self.redis.xrange(self.key)
        envelopes = [json.loads(fields[b"event"]) for _, fields in entries]
        assert [e["id"] for e in envelopes] == [f[b"id"].decode() for _, f in entries]
        return envelopes

    async def close(self) -> None:
        await self.redis.delete(self.key)
        await self.redis.aclose()


class AmqpConsumer:
    """A queue of its own, bound to the stream's exchange before anything is published."""

    url = AMQP_URL

    async def start(self, target: Target) -> None:
        require("RabbitMQ", self.url, 5672)
        self.connection = await aio_pika.connect(self.url)
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange(
            exchange_name(target), aio_pika.ExchangeType.TOPIC, durable=True
        )
        self.queue = await channel.declare_queue(exclusive=True)
        await self.queue.bind(exchange, "#")
        self.exchange = exchange
        self.envelopes: list[dict[str, Any]] = []

    async def received(self) -> list[dict[str, Any]]:
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.envelopes.append(json.loads(message.body))
            assert message.message_id == self.envelopes[-1]["id"]
        return self.envelopes

    async def close(self) -> None:
        await self.exchange.delete()
        await self.connection.close()


class MqttConsumer:
    """Subscribed (QoS 1) to the stream's topics before anything is published."""

    url = MQTT_URL

    async def start(self, target: Target) -> None:
        require("Mosquitto", self.url, 1883)
        self.client = aiomqtt.Client("127.0.0.1", 1883, protocol=aiomqtt.ProtocolVersion.V5)
        await self.client.__aenter__()
        await self.client.subscribe(f"{topic_prefix(target)}/#", qos=1)
        self.envelopes: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            self.envelopes.append(json.loads(message.payload))
            properties = dict(message.properties.UserProperty)  # type: ignore[union-attr]
            assert properties["id"] == self.envelopes[-1]["id"]

    async def received(self) -> list[dict[str, Any]]:
        if self.task.done():
            self.task.result()
        return self.envelopes

    async def close(self) -> None:
        self.task.cancel()
        await self.client.__aexit__(None, None, None)


class WebhookConsumer:
    """A loopback endpoint that checks the signatures; it fails its first requests, so that
    delivery goes through retries."""

    url = ""

    async def start(self, target: Target) -> None:
        self.receiver = Receiver(failing=3)
        self.serving = receiving(self.receiver)
        await self.serving.__aenter__()
        self.url = self.receiver.url

    async def received(self) -> list[dict[str, Any]]:
        return self.receiver.envelopes

    async def close(self) -> None:
        await self.serving.__aexit__(None, None, None)
