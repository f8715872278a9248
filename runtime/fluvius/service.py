"""A service's declarations: its domains, their aggregates, tables, policies and workers.

Generated code builds one `Service`; the HTTP app, the workers and the CLI verbs read it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.application.uploads import upload_expiry_worker
from fluvius.data.mapping import Storage, map_aggregate, storage_of
from fluvius.domain.lookalikes import check_methods

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table

    from fluvius.application.streams import Stream
    from fluvius.application.views import View
    from fluvius.application.workers import CronWorker, EventWorker
    from fluvius.casbin.permission import Permission
    from fluvius.data.tables import DomainLog, RuntimeTables
    from fluvius.domain.aggregate import Aggregate
    from fluvius.settings import Settings

ServicesBuilder = Callable[["Settings"], AbstractAsyncContextManager[Any]]
"""Builds a service's dependencies once at start-up, and closes them at shutdown: an
`@asynccontextmanager` function of the settings, which yields the services (`self.services` in
handlers, `ctx.services` in workers)."""


@asynccontextmanager
async def no_services(_settings: Settings) -> AsyncIterator[None]:
    """The builder of a service that depends on nothing."""
    yield None


def provided(services: Any) -> ServicesBuilder:
    """A builder of services that exist already (a test's fakes): nothing to start or close."""
    return lambda _settings: nullcontext(services)


@dataclass(frozen=True)
class Domain:
    """A bounded context: aggregates sharing one event log, their state tables, policies and
    workers."""

    name: str
    log: DomainLog
    aggregates: tuple[type[Aggregate[Any]], ...]
    tables: Mapping[type[Aggregate[Any]], Table] = field(hash=False)
    permissions: tuple[Permission, ...] = ()
    workers: tuple[EventWorker | CronWorker, ...] = ()
    views: tuple[View, ...] = ()
    description: str = ""

    def aggregate(self, name: str) -> type[Aggregate[Any]]:
        """The aggregate called `name`."""
        for aggregate in self.aggregates:
            if aggregate.name == name:
                return aggregate
        raise LookupError(f"domain {self.name} has no aggregate '{name}'")


@dataclass(frozen=True)
class Service:
    """Everything a generated service declares; building it maps each aggregate to its state
    table, its domain's log and the tables its refs name (`fluvius.data.mapping`), and refuses
    an aggregate class whose methods look like handlers but match none
    (`fluvius.domain.lookalikes`)."""

    name: str
    metadata: MetaData
    tables: RuntimeTables
    domains: tuple[Domain, ...]
    tenancy: bool = False
    description: str = ""
    streams: tuple[Stream, ...] = ()
    build_services: ServicesBuilder = no_services
    _by_name: dict[str, Domain] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {domain.name: domain for domain in self.domains})
        tables = {
            aggregate.qualified_name(): domain.tables[aggregate]
            for domain in self.domains
            for aggregate in domain.aggregates
        }
        for domain in self.domains:
            for aggregate in domain.aggregates:
                check_methods(aggregate)
                refs = {
                    ref.to: tables[ref.to]
                    for handler in aggregate.commands.values()
                    for ref in handler.refs.values()
                }
                files = any(handler.files for handler in aggregate.commands.values())
                uploads = self.tables.uploads if files else None
                map_aggregate(
                    aggregate, Storage(domain.tables[aggregate], domain.log, refs, uploads)
                )

    def domain(self, name: str) -> Domain:
        """The domain called `name`."""
        try:
            return self._by_name[name]
        except KeyError:
            raise LookupError(f"service {self.name} has no domain '{name}'") from None

    def aggregates(self) -> list[type[Aggregate[Any]]]:
        """Every aggregate of every domain."""
        return [aggregate for domain in self.domains for aggregate in domain.aggregates]

    def views(self) -> list[View]:
        """Every view of every domain."""
        return [view for domain in self.domains for view in domain.views]

    def view(self, qualified: str) -> View:
        """The view called `domain.view`."""
        for view in self.views():
            if view.qualified_name == qualified:
                return view
        raise LookupError(f"service {self.name} has no view '{qualified}'")

    def workers(self) -> list[tuple[Domain, EventWorker | CronWorker]]:
        """Every worker, with its domain; with file fields, the built-in upload expiry (in the
        first domain that has them)."""
        declared: list[tuple[Domain, EventWorker | CronWorker]] = [
            (domain, worker) for domain in self.domains for worker in domain.workers
        ]
        uploads = self.tables.uploads
        for domain in self.domains:
            if uploads is not None and any(
                storage_of(a).uploads is not None for a in domain.aggregates
            ):
                return [*declared, (domain, upload_expiry_worker(uploads))]
        return declared
