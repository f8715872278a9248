"""Tracing: one trace from a command's HTTP request to every job it caused, through the
`traceparent` that each event stores; and nothing of OpenTelemetry without its settings.

The ledger service (tests/e2e/specs): posting an entry makes count-entries send a command to the
tally, and always-fails fail.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from fluvius.observability.hooks import Tracing, use_tracing
from fluvius.testing.api import serving
from fluvius.testing.api import test_settings as api_settings
from tests.e2e.test_workers import Ledger, ledger, ledger_root

__all__ = ["ledger", "ledger_root"]  # the fixtures this module shares with the worker tests
POST = "/books:post-entry/entry/:new"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans this process ends during the test, in memory."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        exporter.shutdown()
        use_tracing(Tracing())
        SQLAlchemyInstrumentor().uninstrument()


async def test_one_trace_runs_from_the_request_to_every_job_it_caused(
    ledger: Ledger, database_url: str, spans: InMemorySpanExporter
) -> None:
    settings = replace(
        api_settings(ledger.service, database_url),
        workers_in_process=True,
        worker_poll_s=0.05,
        worker_retry_base_s=0.05,
        tracing=True,
    )
    async with serving(ledger.service, settings) as api, api.client("clerk") as clerk:
        assert (await clerk.post(POST, json={"amount": 7})).status_code == 201
        assert await ledger.wait_for(1) == (1, 7)
        jobs = await _until_jobs(spans, {"job count-entries", "job always-fails"})
    [request] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    trace_id = _context(request).trace_id
    posted, counted = await _traceparents(ledger, "entry-posted", "entry-counted")
    assert posted == _traceparent(request)  # the event continues the request's span
    for job in jobs.values():
        assert _context(job).trace_id == trace_id
        assert job.parent is not None
        assert job.parent.span_id == _context(request).span_id
    assert counted == _traceparent(jobs["job count-entries"])  # the job's command's event
    statements = [s for s in spans.get_finished_spans() if "db.system" in (s.attributes or {})]
    assert {_context(s).trace_id for s in statements} >= {trace_id}


def test_nothing_of_opentelemetry_is_imported_without_its_settings(
    ledger_root: Path, tmp_path: Path
) -> None:
    script = f"""
import sys
sys.path.insert(0, {str(ledger_root)!r})
from ledger._generated.service import SERVICE
from fluvius.fastapi.app import build_app
from fluvius.settings import Settings
settings = Settings.load("ledger", environ={{"FLUVIUS_JWT_SECRET": "x" * 32}})
assert not settings.tracing
build_app(SERVICE, settings)
paid = ("opentelemetry.sdk", "opentelemetry.instrumentation", "opentelemetry.exporter")
print(sorted(name for name in sys.modules if name.startswith(paid)))
print("fluvius.observability.tracing" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    # (FastAPI itself imports OpenTelemetry's API when it is installed)
    assert result.stdout.split() == ["[]", "False"]


async def _until_jobs(spans: InMemorySpanExporter, names: set[str]) -> dict[str, ReadableSpan]:
    for _ in range(600):
        found = {s.name: s for s in spans.get_finished_spans() if s.name in names}
        if found.keys() == names:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no spans {names} ended")


async def _traceparents(ledger: Ledger, *names: str) -> list[str]:
    """The stored traceparent of the event of each of `names` (one each)."""
    events = ledger.service.domain("books").log.events
    async with ledger.database.read.connect() as connection:
        rows = (await connection.execute(select(events.c.name, events.c.metadata))).all()
    by_name: dict[str, Any] = {name: metadata for name, metadata in rows}
    return [by_name[name]["traceparent"] for name in names]


def _context(span: ReadableSpan) -> trace.SpanContext:
    context = span.get_span_context()
    assert context is not None
    return context


def _traceparent(span: ReadableSpan) -> str:
    context = _context(span)
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
