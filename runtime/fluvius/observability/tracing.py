"""Traces through OpenTelemetry, with its standard settings (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_SERVICE_NAME`...): a span per HTTP request (FastAPI's instrumentation), per SQL statement
(SQLAlchemy's) and per worker job. An event stores the `traceparent` of the span that recorded
it, and the job that handles it continues that trace, so one trace runs from a command's request
to every job it caused. Only imported when the service traces (`fluvius[otel]`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fluvius.observability.hooks import Tracing, use_tracing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fluvius.data.driver import Database

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER = "fluvius"


def trace_service(app: FastAPI, database: Database, service: str) -> None:
    """Trace `app`'s requests, besides what `trace_process` traces."""
    trace_process(database, service)
    FastAPIInstrumentor.instrument_app(app)


def trace_process(database: Database, service: str) -> None:
    """Trace `database`'s statements and the jobs of this process, exported over OTLP as
    `service` (unless OTEL_SERVICE_NAME says otherwise). A tracer provider set up before (by a
    test, or the application) is kept."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        name = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
        provider = TracerProvider(resource=Resource.create(name))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    use_tracing(OpenTelemetryTracing())
    replicas = [replica.engine.sync_engine for replica in database.replicas.replicas]
    engines = list({database.write.sync_engine, database.read.sync_engine, *replicas})
    instrumentor = SQLAlchemyInstrumentor()  # one per process, as OpenTelemetry has it
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()  # from the engines of a database made before in this process
    # its declared range stops short of SQLAlchemy 2.1, whose engine events it uses unchanged
    instrumentor.instrument(engines=engines, skip_dep_check=True)


class OpenTelemetryTracing(Tracing):
    """The trace context of OpenTelemetry's current span."""

    def traceparent(self) -> str | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    def job(self, worker: str, traceparent: str | None) -> AbstractContextManager[object]:
        return _job_span(worker, traceparent)


@contextmanager
def _job_span(worker: str, traceparent: str | None) -> Iterator[object]:
    parent = _PROPAGATOR.extract({"traceparent": traceparent} if traceparent else {})
    tracer = trace.get_tracer(_TRACER)
    with tracer.start_as_current_span(
        f"job {worker}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={"fluvius.worker": worker},
    ) as span:
        yield span
