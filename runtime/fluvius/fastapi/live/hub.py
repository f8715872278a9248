"""The live side of a running service: its resources, their feeds, and subscribing.

Feeds (one per domain log, one per view) start with their first subscription and stop once
they have had none for IDLE_FEED_S; they wake when their source is written to
(`Database.commits`: on PostgreSQL, by any instance), and read the primary, never a replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from fluvius.casbin.permission import READ
from fluvius.fastapi.live.protocol import QUEUE_MESSAGES, LiveError
from fluvius.fastapi.live.resources import LiveResource, live_resources
from fluvius.fastapi.live.subscriptions import Render, Sink, Subscription
from fluvius.fastapi.problems import FieldProblem, ProblemError
from fluvius.query.errors import QueryError

IDLE_FEED_S = 10.0  # a feed without subscriptions for this long stops reading

if TYPE_CHECKING:
    from collections.abc import Hashable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from fluvius.data.driver import Database
    from fluvius.fastapi.access import Access, Gate
    from fluvius.fastapi.auth import Principal
    from fluvius.fastapi.live.feed import Feed
    from fluvius.service import Service


class LiveHub:
    """Subscriptions to a service's resources, served by their feeds."""

    def __init__(self, service: Service, database: Database, gate: Gate) -> None:
        self.service = service
        self.database = database
        self.gate = gate
        self.resources = live_resources(service)
        self.queue_limit = QUEUE_MESSAGES  # per subscriber
        self._feeds: dict[str, Feed] = {}
        self._starting = asyncio.Lock()
        self._channels: dict[str, list[str]] = {}  # what each feed listens to
        self._claims: dict[str, int] = {}  # subscribes in progress, by feed
        self._stopping: dict[str, asyncio.Task[None]] = {}  # idle feeds, by name

    @property
    def feeds(self) -> Mapping[str, Feed]:
        """The running feeds, by name."""
        return MappingProxyType(self._feeds)

    @property
    def engine(self) -> AsyncEngine:
        """The primary's engine (SQLite's read one: its write one begins with BEGIN IMMEDIATE)."""
        return self.database.write if self.database.dialect == "postgresql" else self.database.read

    def resource(self, name: object) -> LiveResource:
        """The resource called `name`, or a 404 LiveError."""
        resource = self.resources.get(name) if isinstance(name, str) else None
        if resource is None:
            known = ", ".join(sorted(self.resources))
            raise LiveError(
                HTTPStatus.NOT_FOUND, "unknown-resource", f"no resource '{name}'; known: {known}"
            )
        return resource

    def admit(self, principal: Principal, resource: LiveResource) -> Access:
        """`principal`, if it may read `resource` (as GET would admit it)."""
        try:
            return self.gate.authorize(principal, resource.name, READ)
        except ProblemError as error:
            raise LiveError(error.status, error.code, error.detail) from None

    async def subscribe(
        self,
        resource: LiveResource,
        access: Access,
        sink: Sink,
        render: Render,
        *,
        key: Hashable | None = None,
        query: Any = None,
        after: int | None = None,
    ) -> Subscription:
        """A subscription delivering to `sink`: changes after `after` (replayed), else from
        now on; of the row `key` only, when given. Its `last` is the position it starts
        after."""
        predicate = None
        if query is not None:
            try:
                predicate = resource.predicate(query, self.database.dialect)
            except QueryError as error:
                errors = [FieldProblem.model_validate(item) for item in error.errors]
                raise LiveError(
                    HTTPStatus.BAD_REQUEST, error.code, error.message, errors=errors
                ) from None
        feed = await self._claim(resource)
        try:
            if after is not None:
                await feed.check_resume(after)
            subscription = Subscription(
                resource,
                access,
                self.gate,
                sink,
                render,
                last=max(feed.horizon, after or 0),
                key=key,
                predicate=predicate,
            )
            feed.add(subscription, after)
        finally:
            self._claims[resource.feed_name] -= 1
            self._stop_if_idle(resource.feed_name)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        feed = self._feeds.get(subscription.resource.feed_name)
        if feed is not None:
            feed.remove(subscription)
            self._stop_if_idle(subscription.resource.feed_name)

    async def close(self) -> None:
        """Stop the feeds."""
        for stopping in self._stopping.values():
            stopping.cancel()
        for feed in self._feeds.values():
            await feed.stop()
        self._feeds.clear()

    async def _claim(self, resource: LiveResource) -> Feed:
        """The running feed of `resource`, started if need be, kept from stopping until the
        claim is given back (`_claims`)."""
        name = resource.feed_name
        async with self._starting:
            if (stopping := self._stopping.pop(name, None)) is not None:
                stopping.cancel()
            feed = self._feeds.get(name)
            if feed is None:
                feed = resource.new_feed(self.engine)
                await self.database.commits.listen(resource.channels, feed.wake)
                await feed.start()
                for channel in resource.channels:
                    self.database.commits.on_written(channel, feed.written)
                self._feeds[name], self._channels[name] = feed, resource.channels
            self._claims[name] = self._claims.get(name, 0) + 1
        return feed

    def _stop_if_idle(self, name: str) -> None:
        """When the feed `name` serves no one and no subscribe claims it, stop it in
        IDLE_FEED_S unless someone subscribes meanwhile."""
        feed = self._feeds.get(name)
        if feed is None or self._claims.get(name) or not feed.idle:
            return
        if (stopping := self._stopping.get(name)) is not None:
            stopping.cancel()
        self._stopping[name] = asyncio.create_task(self._stop_idle(name, feed))

    async def _stop_idle(self, name: str, feed: Feed) -> None:
        await asyncio.sleep(IDLE_FEED_S)
        async with self._starting:
            del self._stopping[name], self._feeds[name]
            self.database.commits.forget(self._channels.pop(name), feed.wake, feed.written)
        await feed.stop()
