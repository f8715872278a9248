"""Redis Streams: one stream key, `<project>.<stream>`, in the URL's database; each entry holds
the event id (`id`, for consumers to deduplicate), its CloudEvents `type` and the envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from fluvius.streams.publishers import TIMEOUT_S, Failure, Target

if TYPE_CHECKING:
    from fluvius.streams.envelope import Message


def stream_key(target: Target) -> str:
    """The Redis stream of a target."""
    return f"{target.project}.{target.stream}"


class RedisPublisher:
    """Adds a batch in one pipelined transaction (MULTI/EXEC), so it lands whole or not at all."""

    def __init__(self, url: str, target: Target) -> None:
        self.url = url
        self.key = stream_key(target)
        self._redis: Redis | None = None

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        if self._redis is None:
            self._redis = Redis.from_url(
                self.url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
            )
        async with self._redis.pipeline(transaction=True) as pipeline:
            for m in messages:
                pipeline.xadd(self.key, {"id": m.id, "event": m.body})
            await pipeline.execute()
        return []

    async def close(self) -> None:
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
