"""Webhooks: each event is an HTTP POST of its CloudEvent to the stream's URL, signed as the
Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the secret). A 2xx answer is a
delivery; anything else is tried again after a pause that doubles, and after the last attempt
the event is given up on (the relay records it as a dead letter)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from fluvius.settings import SettingsError
from fluvius.streams.envelope import CONTENT_TYPE
from fluvius.streams.publishers import TIMEOUT_S, Failure, Target

if TYPE_CHECKING:
    from fluvius.streams.envelope import Message

SECRET_PREFIX = "whsec_"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` of a body: `v1,` and its base64 HMAC-SHA256."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookPublisher:
    """Posts messages one at a time, in order, each with its retries."""

    def __init__(self, url: str, target: Target) -> None:
        if not target.secret:
            raise SettingsError(
                f"webhook stream '{target.stream}' needs a signing secret: set "
                f"FLUVIUS_STREAM_{target.stream.upper()}_SECRET to whsec_ and base64 bytes"
            )
        try:
            base64.b64decode(target.secret.removeprefix(SECRET_PREFIX), validate=True)
        except ValueError:
            raise SettingsError(
                f"FLUVIUS_STREAM_{target.stream.upper()}_SECRET must be whsec_ and base64"
            ) from None
        self.url = url
        self.target = target
        self._client: httpx.AsyncClient | None = None

    async def publish(self, messages: Sequence[Message]) -> list[Failure]:
        failures = []
        for m in messages:
            error = await self._deliver(m)
            if error is not None:
                failures.append(Failure(m, error))
        return failures

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _deliver(self, message: Message) -> str | None:
        """Post `message` until it is taken or its attempts run out; the last error, or None."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        error = ""
        for attempt in range(self.target.attempts):
            if attempt:
                await asyncio.sleep(self.target.retry_base_s * 2 ** (attempt - 1))
            try:
                response = await self._client.post(
                    self.url, content=message.body, headers=self._headers(message)
                )
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return None
            error = f"HTTP {response.status_code}: {response.text[:200]}"
        return f"{self.url} did not take the event after {self.target.attempts} attempts: {error}"

    def _headers(self, message: Message) -> dict[str, str]:
        assert self.target.secret is not None
        timestamp = int(time.time())
        return {
            "content-type": CONTENT_TYPE,
            "webhook-id": message.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self.target.secret, message.id, timestamp, message.body),
        }
