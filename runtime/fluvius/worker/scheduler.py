"""Cron workers without arq: one job per tick, queued in the job table.

Every process that runs the scheduler queues the same tick under the same job key, so a tick
runs once however many processes there are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from fluvius.worker.declarations import CronWorker
from fluvius.worker.jobs import Job, JobStore
from fluvius.worker.relay import _wait

if TYPE_CHECKING:
    from fluvius.data.driver import Database
    from fluvius.service import Service


class Scheduler:
    """Queues the ticks of a service's cron workers as they come."""

    def __init__(self, service: Service, database: Database) -> None:
        self.database = database
        self.store = JobStore(service.tables)
        self.workers = [
            (domain.name, worker)
            for domain, worker in service.workers()
            if isinstance(worker, CronWorker)
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Queue each tick when it comes, until `stop` is set."""
        if not self.workers:
            return
        now = dt.datetime.now(dt.UTC)
        while not stop.is_set():
            ticks = {worker.name: worker.schedule.next_after(now) for _, worker in self.workers}
            tick = min(ticks.values())
            await _wait(stop, max((tick - dt.datetime.now(dt.UTC)).total_seconds(), 0))
            if stop.is_set():
                return
            due = [
                Job.for_tick(worker.name, domain, tick)
                for domain, worker in self.workers
                if ticks[worker.name] == tick
            ]
            async with self.database.write.begin() as connection:
                await self.store.enqueue(connection, due)
            now = tick
