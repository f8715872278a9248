"""Build the FastAPI app of a service from its declarations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from fluvius.data.consistency import HEADER as CONSISTENCY_HEADER
from fluvius.data.mapping import storage_of
from fluvius.fastapi.commands import add_command_routes
from fluvius.fastapi.health import health_router
from fluvius.fastapi.live import live_endpoint
from fluvius.fastapi.live.protocol import OPENAPI_NOTE
from fluvius.fastapi.media import UPLOAD_PATH, add_file_routes, add_upload_route
from fluvius.fastapi.middleware import REQUEST_ID_HEADER, BodyLimit, RequestContext
from fluvius.fastapi.openapi import parameters_never_null, refine_openapi
from fluvius.fastapi.problems import Problem, install_problem_handlers
from fluvius.fastapi.queries import add_query_routes
from fluvius.fastapi.routes import ServiceRoute
from fluvius.fastapi.runtime import Runtime
from fluvius.fastapi.views import add_view_routes
from fluvius.settings import Settings
from fluvius.streams.asyncapi import asyncapi_router

if TYPE_CHECKING:
    from fluvius.service import Service

_CLIENT_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    CONSISTENCY_HEADER,
    REQUEST_ID_HEADER,
]
_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Idempotent-Replayed",
    CONSISTENCY_HEADER,
    REQUEST_ID_HEADER,
]


def build_app(service: Service, settings: Settings | None = None) -> FastAPI:
    """The service's HTTP app: one route per command and query, every error as problem+json."""
    settings = settings or Settings.load(service.name)
    settings.require_authentication()
    runtime = Runtime(service, settings)
    app = FastAPI(
        title=service.name,
        description=f"{service.description}\n\n{OPENAPI_NOTE}".lstrip(),
        lifespan=runtime.lifespan,
        openapi_tags=[
            {"name": domain.name, "description": domain.description} for domain in service.domains
        ],
    )
    app.router.route_class = ServiceRoute
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, exempt=(UPLOAD_PATH,))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=_CLIENT_HEADERS,
            expose_headers=_EXPOSED_HEADERS,
        )
    app.add_middleware(RequestContext)
    app.include_router(health_router(runtime))
    app.add_api_websocket_route("/live", live_endpoint)
    if service.streams:
        app.include_router(asyncapi_router(service))
    if settings.metrics:
        _serve_metrics(app)
    if settings.tracing:
        from fluvius.observability.tracing import trace_service

        trace_service(app, runtime.database, service.name)
    uploads = service.tables.uploads
    if uploads is not None and any(storage_of(a).uploads is not None for a in service.aggregates()):
        add_upload_route(app, runtime, uploads)
    for aggregate in service.aggregates():
        add_command_routes(app, runtime, aggregate)
        add_query_routes(app, runtime, aggregate)
        add_file_routes(app, runtime, aggregate)
    for view in service.views():
        add_view_routes(app, runtime, view)
    _declare_problem_schema(app)
    refine_openapi(app, parameters_never_null)
    return app


def _serve_metrics(app: FastAPI) -> None:
    """`/metrics`, and the middleware that counts requests (outermost: it sees every status)."""
    from fluvius.observability.exposition import metrics_endpoint
    from fluvius.observability.metrics import HttpMetrics

    app.add_middleware(HttpMetrics)
    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)


def _declare_problem_schema(app: FastAPI) -> None:
    """Put the Problem schema, which error responses refer to, into the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            definitions = problem.pop("$defs", {})
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(definitions)
            components["Problem"] = problem
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
