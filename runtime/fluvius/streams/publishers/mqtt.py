"""MQTT 5 (Mosquitto and others): topics `<project>/<stream>/<domain>/<event>`, QoS 1 (at least
once, acknowledged by the broker); the event id travels as the user property `id` and in the
envelope, for consumers to deduplicate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fluvius.streams.envelope import CONTENT_TYPE
from fluvius.streams.publishers import TIMEOUT_S, Failure, Target

if TYPE_CHECKING:
    from fluvius.streams.envelope import Message

QOS = 1


def topic_prefix(target: Target) -> str:
    """The topics of a target's messages start with this."""
    return f"{target.project}/{target.stream}"


class MqttPublisher:
    """Hands a batch to the client in order, then waits for every PUBACK."""

    def __init__(self, url: str, target: Target) -> None:
        parts = urlsplit(url)
        self.prefix = topic_prefix(target)
        self.settings = {
            "hostname": parts.hostname or "localhost",
            "port": parts.port or (8883 if parts.scheme == "mqtts" else 1883),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
        }
        self.tls = parts.scheme == "mqtts"
        self._client: aiomqtt.Client | None = None

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        client = await self._connect()
        sent = [
            client.publish(
                f"{self.prefix}/{m.domain}/{m.event}",
                m.body,
                qos=QOS,
                properties=_properties(m),
                timeout=TIMEOUT_S,
            )
            for m in messages
        ]
        await asyncio.gather(*sent)
        return []

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.__aexit__(None, None, None)

    async def _connect(self) -> aiomqtt.Client:
        if self._client is None:
            client = aiomqtt.Client(
                protocol=aiomqtt.ProtocolVersion.V5,
                timeout=TIMEOUT_S,
                tls_params=aiomqtt.TLSParameters() if self.tls else None,
                **self.settings,  # type: ignore[arg-type]
            )
            await client.__aenter__()
            self._client = client
        return self._client


def _properties(message: Message) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.UserProperty = [("id", message.id)]
    properties.ContentType = CONTENT_TYPE
    return properties
