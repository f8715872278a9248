"""`/metrics`: the instruments of this process, or of every process of `fluvius run --workers N`,
and what the database says at the time of the scrape: jobs by worker and state, how far each
relay, each view's projector and each running stream is behind its logs, and each read replica
behind the primary."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.requests import Request  # at run time: FastAPI reads the endpoint's signature
from starlette.responses import Response

from fluvius.data.reader import Checkpoints
from fluvius.observability.instruments import REGISTRY
from fluvius.observability.processes import MULTIPROCESS_DIRECTORY
from fluvius.streams.relay import checkpoint_name, stream_url
from fluvius.worker.jobs import JobStore
from fluvius.worker.relay import relay_name, relayed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.data.replicas import Replicas
    from fluvius.fastapi.runtime import Runtime
    from fluvius.service import Service
    from fluvius.settings import Settings


async def metrics_endpoint(request: Request) -> Response:
    """The metrics of the service whose runtime serves `request`, in Prometheus's text format."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.database.read.connect() as connection:
        families = [
            await _jobs(connection, runtime.service),
            await _lags(connection, runtime.service, runtime.settings),
        ]
        if runtime.database.replicas:
            families.extend(await _replicas(connection, runtime.database.replicas))
    return Response(exposition(families), media_type=CONTENT_TYPE_LATEST)


def exposition(families: Iterable[Metric]) -> bytes:
    """The instruments of this process (of all of them, in multiprocess mode), and `families`."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    instruments: Collector = REGISTRY
    if directory:
        instruments = MultiProcessCollector(None, directory)  # type: ignore[no-untyped-call]
    return generate_latest(instruments) + generate_latest(_Families(families))


class _Families:
    """A collector of metric families made beforehand (from the database, asynchronously)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


async def _jobs(connection: AsyncConnection, service: Service) -> Metric:
    family = GaugeMetricFamily(
        "fluvius_jobs",
        "Jobs by worker and state (waiting, retrying, done, dead), as `fluvius workers` counts.",
        labels=["worker", "state"],
    )
    for worker, counts in sorted((await JobStore(service.tables).counts(connection)).items()):
        for state, count in dataclasses.asdict(counts).items():
            family.add_metric([worker, state], count)
    return family


async def _lags(connection: AsyncConnection, service: Service, settings: Settings) -> Metric:
    family = GaugeMetricFamily(
        "fluvius_checkpoint_lag_events",
        "How far each reader of a log is behind: the log's last position minus its checkpoint's.",
        labels=["checkpoint"],
    )
    readers = [(relay_name(domain.name), domain) for domain, _workers in relayed(service)]
    readers += [
        (view.checkpoint(name), service.domain(name))
        for view in service.views()
        for name in view.domains()
    ]
    readers += [
        (checkpoint_name(stream.name, name), service.domain(name))
        for stream in service.streams
        if stream_url(settings, stream)
        for name in stream.domains()
    ]
    checkpoints = Checkpoints(service.tables.checkpoints)
    heads: dict[str, int] = {}
    for name, domain in readers:
        if domain.name not in heads:
            events = domain.log.events
            last = await connection.execute(select(func.max(events.c.position)))
            heads[domain.name] = last.scalar() or 0
        read = await checkpoints.load(connection, name)
        family.add_metric([name], max(heads[domain.name] - read.position, 0))
    return family


async def _replicas(primary: AsyncConnection, replicas: Replicas) -> list[Metric]:
    up = GaugeMetricFamily(
        "fluvius_replica_up",
        "1 while queries use the read replica, 0 while it is left out for not answering.",
        labels=["replica"],
    )
    lag = GaugeMetricFamily(
        "fluvius_replica_lag_bytes",
        "Bytes of the primary's WAL the read replica has yet to replay.",
        labels=["replica"],
    )
    for name, behind in (await replicas.lags(primary)).items():
        up.add_metric([name], 0 if behind is None else 1)
        if behind is not None:
            lag.add_metric([name], behind)
    return [up, lag]
