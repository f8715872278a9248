"""What the runtime asks of tracing, without importing it: the default does nothing, and
tracing.py puts OpenTelemetry's in its place when the service is configured to trace."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def traces_configured(environ: Mapping[str, str]) -> bool:
    """True when `environ` names where to send traces (OpenTelemetry's standard settings)."""
    return any(environ.get(name) for name in ENDPOINTS)


class Tracing:
    """The trace context of the work under way; this one has none."""

    def traceparent(self) -> str | None:
        """The W3C `traceparent` of the current span, for the events it records; None here."""
        return None

    def job(self, worker: str, traceparent: str | None) -> AbstractContextManager[object]:
        """A span around a job of `worker`, continuing the trace of `traceparent`; none here."""
        return nullcontext()


_active = Tracing()


def tracing() -> Tracing:
    """The tracing in use: OpenTelemetry's once tracing.py installed it, otherwise none."""
    return _active


def use_tracing(chosen: Tracing) -> None:
    """Make `chosen` the tracing in use."""
    global _active  # one per process, like OpenTelemetry's tracer provider
    _active = chosen
