"""Everything a running service holds: settings, database, processor, access gate and workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fluvius.application.processor import CommandProcessor
from fluvius.casbin.enforcer import Enforcer
from fluvius.data.driver import Database
from fluvius.fastapi.access import Gate
from fluvius.fastapi.auth import TokenVerifier
from fluvius.fastapi.live import LiveHub
from fluvius.media import open_store
from fluvius.worker import InProcessWorkers

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fluvius.service import Service
    from fluvius.settings import Settings


class Runtime:
    """The parts of a service that requests share."""

    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.database = Database.from_settings(settings, replica=True)
        self.processor = CommandProcessor(self.database)
        self.media = open_store(settings.media_url)
        permissions = [p for domain in service.domains for p in domain.permissions]
        self.gate = Gate(TokenVerifier(settings), Enforcer(permissions), tenancy=service.tenancy)
        self.live = LiveHub(service, self.database, self.gate)
        self.workers: InProcessWorkers | None = None
        self.build_services = service.build_services  # tests put `provided(fakes)` here
        if settings.metrics:
            from fluvius.observability.metrics import watch_pool

            watch_pool(self.database)

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """Run for the life of the app with the service's services built, and the workers
        in-process when there is no Redis; close the services and release the database
        connections at the end."""
        settings = self.settings
        try:
            async with self.build_services(settings) as services:
                self.processor.services = services
                await self._start_workers()
                try:
                    yield
                finally:
                    if self.workers is not None:
                        await self.workers.stop()
                        self.workers = None
        finally:
            await self.live.close()
            await self.database.dispose()

    async def _start_workers(self) -> None:
        settings = self.settings
        background = self.service.workers() or self.service.views()
        if background and settings.workers_in_process and not settings.redis_url:
            self.workers = InProcessWorkers(self.service, self.database, self.processor, settings)
            await self.workers.start()
