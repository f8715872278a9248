"""The service's Prometheus instruments, and the hooks any layer reports through.

They live in this module's registry, one per process. Under `fluvius run --workers N` each
process writes them to files in `PROMETHEUS_MULTIPROC_DIR` instead, and a scrape of any process
adds up every process's (exposition.py). Recording costs little and needs no setting; only
FLUVIUS_METRICS serves them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "fluvius_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "fluvius_http_request_duration_seconds",
    "Time from a request's arrival to the end of its reply, by method and route template.",
    ["method", "route"],
    registry=REGISTRY,
)
COMMANDS = Counter(
    "fluvius_commands",
    "Commands sent over HTTP, by command (domain:name) and outcome: ok, retried (the stored "
    "reply to a repeated Idempotency-Key), conflict, refused or error.",
    ["command", "outcome"],
    registry=REGISTRY,
)
CONNECTIONS_IN_USE = Gauge(
    "fluvius_db_connections_in_use",
    "Database connections checked out of the pool, by engine (write, read).",
    ["engine"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
CONNECTIONS_WAITING = Gauge(
    "fluvius_db_connections_waiting",
    "Commands waiting for a write connection (PostgreSQL, where writers queue in turn).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
READ_LAG = Histogram(
    "fluvius_read_lag_seconds",
    "Time from an event's recording to its handling by a reader of the log, by reader: the "
    "relay queuing its jobs (relay:<domain>), a stream publishing it (stream:<stream>:<domain>), "
    "a view's projector applying it (view:<domain>.<view>:<domain>).",
    ["reader"],
    registry=REGISTRY,
    buckets=LAG_BUCKETS,
)
READ_LAG_LAST = Gauge(
    "fluvius_read_lag_last_seconds",
    "The read lag of the last event each reader handled (the oldest of its last batch).",
    ["reader"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
BROKER_ERRORS = Counter(
    "fluvius_stream_errors",
    "A stream's broker errors: batches its broker refused or did not confirm, and events its "
    "webhook gave up on, by stream.",
    ["stream"],
    registry=REGISTRY,
)


def report_lag(
    reader: str, recorded: Iterable[dt.datetime], now: dt.datetime | None = None
) -> None:
    """Report that `reader` (a relay, a stream, a projector) has just handled events recorded
    at the times `recorded`: each one's lag goes into the histogram, the largest into the gauge."""
    at = now or dt.datetime.now(dt.UTC)
    lags = [max((at - time).total_seconds(), 0.0) for time in recorded]
    if not lags:
        return
    histogram = READ_LAG.labels(reader)
    for lag in lags:
        histogram.observe(lag)
    READ_LAG_LAST.labels(reader).set(max(lags))


def report_broker_error(stream: str, count: int = 1) -> None:
    """Count `count` broker errors of `stream`."""
    BROKER_ERRORS.labels(stream).inc(count)
