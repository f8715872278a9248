"""The service's HTTP app in-process, with callers of any role: for tests through HTTP."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx

from fluvius.fastapi.app import build_app
from fluvius.fastapi.auth import mint_token
from fluvius.fastapi.commands import compare_paths
from fluvius.settings import Settings
from fluvius.testing.scenario import TEST_TENANT

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fluvius.service import Service, ServicesBuilder

BASE_URL = "http://service.test"

AppFactory = Callable[[Settings], "FastAPI"]
"""How a test builds the app it calls, from its test settings: a project's `create_app`."""


class Api:
    """Clients of the app: `api.client("teller")` calls it with a token holding that role."""

    def __init__(self, app: FastAPI, settings: Settings, *, tenancy: bool) -> None:
        self.app = app
        self.settings = settings
        self.default_tenant = TEST_TENANT if tenancy else None

    def token(self, *roles: str, sub: str = "user-1", tenant: str | None = None) -> str:
        """A token for `sub` with `roles` (in the test tenant, when the service has tenancy)."""
        return mint_token(
            self.settings,
            sub,
            roles,
            tenant=tenant or self.default_tenant,
            ttl=dt.timedelta(minutes=5),
        )

    def client(
        self, *roles: str, sub: str = "user-1", tenant: str | None = None
    ) -> httpx.AsyncClient:
        """An HTTP client of the app; anonymous without roles."""
        headers = {}
        if roles:
            headers["Authorization"] = f"Bearer {self.token(*roles, sub=sub, tenant=tenant)}"
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)


def test_settings(service: Service, database_url: str) -> Settings:
    """Settings for a test run of `service` on `database_url`, with a fresh secret and a fresh
    folder for uploaded files (outside the project, which tests must not write into)."""
    return Settings(
        database_url=database_url,
        jwt_secret=secrets.token_urlsafe(32),
        jwt_issuer=f"{service.name}-test",
        jwt_audience=service.name,
        workers_in_process=False,
        media_url=tempfile.mkdtemp(prefix=f"{service.name}-media-"),
    )


@asynccontextmanager
async def serving(
    service: Service,
    settings: Settings,
    create_app: AppFactory | None = None,
    services: ServicesBuilder | None = None,
) -> AsyncIterator[Api]:
    """The app of `service` (as `create_app` builds it; by default the runtime's), started
    (lifespan entered) for the duration of the block, with the services `services` builds (by
    default the service's own); every plain command request is answered on both of its paths,
    and fails unless they agree."""
    app = build_app(service, settings) if create_app is None else create_app(settings)
    if services is not None:
        app.state.runtime.build_services = services
    compare_paths(app)
    async with app.router.lifespan_context(app):
        yield Api(app, settings, tenancy=service.tenancy)
