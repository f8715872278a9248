"""What a live subscription can name: an aggregate's state rows, or a view's rows.

A resource names the feed that serves it (one per domain log for aggregates, one per view),
builds that feed, reads the key that picks one of its rows out of a client message, and turns
a `query=` filter into a predicate over its rows.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fluvius.data.changes import ChangeLog
from fluvius.data.mapping import storage_of
from fluvius.fastapi.live.feed import DomainFeed, Feed
from fluvius.fastapi.live.view_feed import ViewFeed
from fluvius.query import fields_of
from fluvius.query.filters import parse_query
from fluvius.query.matching import Predicate, row_predicate

if TYPE_CHECKING:
    from collections.abc import Hashable

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine

    from fluvius.application.views import View
    from fluvius.domain.aggregate import Aggregate
    from fluvius.service import Service


SELECTORS = frozenset({"aggregate_id", "key"})
"""The fields of a subscribe message that pick one row (each resource takes one of them)."""


class LiveResource(Protocol):
    """A resource live subscriptions follow."""

    @property
    def name(self) -> str:
        """As URLs and policies name it: domain.name."""
        ...

    @property
    def selector(self) -> str:
        """The field of a subscribe message that picks one row: `aggregate_id` or `key`."""
        ...

    @property
    def feed_name(self) -> str:
        """The feed that serves it (resources of one feed share it)."""
        ...

    @property
    def channels(self) -> list[str]:
        """The commit channels that wake its feed."""
        ...

    def new_feed(self, engine: AsyncEngine) -> Feed:
        """Its feed, reading with `engine`."""
        ...

    def key(self, value: object) -> Hashable:
        """The row `value` (from a client message or a URL) names; ValueError if none."""
        ...

    def predicate(self, query: Any, dialect: str) -> Predicate:
        """The filter `query` (a JSON object, or its text) as a predicate over rows."""
        ...


@dataclass(frozen=True)
class AggregateResource:
    """An aggregate's state rows, served by the feed of its domain's log."""

    aggregate: type[Aggregate[Any]]
    service: Service

    @property
    def name(self) -> str:
        return self.aggregate.qualified_name()

    @property
    def selector(self) -> str:
        return "aggregate_id"

    @property
    def feed_name(self) -> str:
        return storage_of(self.aggregate).log.domain

    @property
    def channels(self) -> list[str]:
        return [storage_of(self.aggregate).log.channel]

    def new_feed(self, engine: AsyncEngine) -> Feed:
        domain = self.service.domain(self.feed_name)
        return DomainFeed(engine, domain.log, domain.aggregates)

    def key(self, value: object) -> Hashable:
        if not isinstance(value, str):
            raise ValueError("not text")
        return uuid.UUID(value)

    def predicate(self, query: Any, dialect: str) -> Predicate:
        return _predicate(query, storage_of(self.aggregate).table, dialect)


@dataclass(frozen=True)
class ViewResource:
    """A view's rows, served by the feed of its change log."""

    view: View
    changes: ChangeLog

    @property
    def name(self) -> str:
        return self.view.qualified_name

    @property
    def selector(self) -> str:
        return "key"

    @property
    def feed_name(self) -> str:
        return self.view.worker

    @property
    def channels(self) -> list[str]:
        return [self.changes.channel]

    def new_feed(self, engine: AsyncEngine) -> Feed:
        return ViewFeed(engine, self.view, self.changes)

    def key(self, value: object) -> Hashable:
        return str(self.view.key_of(value))

    def predicate(self, query: Any, dialect: str) -> Predicate:
        return _predicate(query, self.view.table, dialect)


def live_resources(service: Service) -> dict[str, LiveResource]:
    """The resources of `service` by name: its aggregates and its views."""
    resources: list[LiveResource] = [
        AggregateResource(aggregate, service) for aggregate in service.aggregates()
    ]
    resources += [
        ViewResource(view, ChangeLog(service.tables, view.qualified_name))
        for view in service.views()
    ]
    return {resource.name: resource for resource in resources}


def _predicate(query: Any, table: Table, dialect: str) -> Predicate:
    text = query if isinstance(query, str) else json.dumps(query)
    return row_predicate(parse_query(text), table, fields_of(table), dialect)
