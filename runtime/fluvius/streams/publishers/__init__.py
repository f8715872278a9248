"""Publishers: each sends a stream's messages to one kind of broker, or to a webhook.

`publisher_for` picks one by the scheme of the stream's URL setting. A broker publisher raises
when a message is not confirmed, and the relay publishes the whole batch again later; a webhook
gives up on a message after its retries and returns it, to become a dead letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from fluvius.settings import SettingsError

if TYPE_CHECKING:
    from fluvius.streams.envelope import Message

TIMEOUT_S = 10.0  # a broker that takes longer to confirm has failed the batch


@dataclass(frozen=True)
class Target:
    """Where, on its broker, a stream goes: names are built from the project and the stream."""

    project: str
    stream: str
    secret: str | None = None  # webhooks: the signing secret (whsec_...)
    retry_base_s: float = 1.0  # webhooks: the first pause between attempts; it doubles
    attempts: int = 5  # webhooks: tries of one message before it is a dead letter


@dataclass(frozen=True)
class Failure:
    """A message given up on, and why."""

    message: Message
    error: str


class Publisher(Protocol):
    """Sends messages in order; returns those given up on (webhooks), raises when it failed."""

    async def publish(self, messages: Sequence[Message]) -> list[Failure]: ...

    async def close(self) -> None: ...


SCHEMES = ("nats", "redis", "rediss", "amqp", "amqps", "mqtt", "mqtts", "kafka", "http", "https")


def publisher_for(url: str, target: Target) -> Publisher:
    """The publisher for `url`, by its scheme; a SettingsError names the ones there are."""
    scheme = urlsplit(url).scheme
    if scheme == "nats":
        from fluvius.streams.publishers.nats import NatsPublisher

        return NatsPublisher(url, target)
    if scheme in ("redis", "rediss"):
        from fluvius.streams.publishers.redis import RedisPublisher

        return RedisPublisher(url, target)
    if scheme in ("amqp", "amqps"):
        from fluvius.streams.publishers.amqp import AmqpPublisher

        return AmqpPublisher(url, target)
    if scheme in ("mqtt", "mqtts"):
        from fluvius.streams.publishers.mqtt import MqttPublisher

        return MqttPublisher(url, target)
    if scheme == "kafka":
        from fluvius.streams.publishers.kafka import KafkaPublisher

        return KafkaPublisher(url, target)
    if scheme in ("http", "https"):
        from fluvius.streams.publishers.webhook import WebhookPublisher

        return WebhookPublisher(url, target)
    raise SettingsError(
        f"stream '{target.stream}': no publisher for '{scheme}://'; schemes: {', '.join(SCHEMES)}"
    )
