"""The live side of a running service: its resources, their feeds, and subscribing.

Feeds (one per domain log, one per view) start with their first subscription, and wake when
their source is written to (`Database.commits`: on PostgreSQL, by any instance); they read the
primary, never a replica.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fluvius.casbin.permission import READ
from fluvius.fastapi.live.protocol import QUEUE_MESSAGES, LiveError
from fluvius.fastapi.live.resources import LiveResource, live_resources
from fluvius.fastapi.live.subscriptions import Render, Sink, Subscription
from fluvius.fastapi.problems import FieldProblem, ProblemError
from fluvius.query.errors import QueryError

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
        feed = await self._feed(resource)
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
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        feed = self._feeds.get(subscription.resource.feed_name)
        if feed is not None:
            feed.remove(subscription)

    async def close(self) -> None:
        """Stop the feeds."""
        for feed in self._feeds.values():
            await feed.stop()
        self._feeds.clear()

    async def _feed(self, resource: LiveResource) -> Feed:
        async with self._starting:
            feed = self._feeds.get(resource.feed_name)
            if feed is None:
                feed = resource.new_feed(self.engine)
                await self.database.commits.listen(resource.channels, feed.wake)
                for channel in resource.channels:
                    self.database.commits.on_written(channel, feed.written)
                await feed.start()
                self._feeds[resource.feed_name] = feed
        return feed
