"""The cron scheduler: queues one job per tick of each cron worker, in-process and on arq alike.

Each tick is the next run after the last that the worker's schedule (cronsim) gives. Every
process that runs the scheduler queues the same tick under the same job id, so a tick runs once
however many processes there are.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fluvius.application.workers import CronWorker
from fluvius.worker.jobs import Job
from fluvius.worker.loops import Heartbeat, keep_running

if TYPE_CHECKING:
    import asyncio

    from fluvius.service import Service
    from fluvius.worker.queues import JobQueue


class Scheduler:
    """Queues the ticks of a service's cron workers as they come."""

    def __init__(self, service: Service, queue: JobQueue) -> None:
        self.queue = queue
        self.workers = [
            (domain.name, worker)
            for domain, worker in service.workers()
            if isinstance(worker, CronWorker)
        ]
        self.heartbeat = Heartbeat()

    async def run(self, stop: asyncio.Event, poll_s: float) -> None:
        """Queue each tick once it has come (looking every `poll_s` seconds), until `stop` is
        set; a tick that could not be queued is queued at a later round."""
        if not self.workers:
            return
        after = dt.datetime.now(dt.UTC)

        async def round_() -> bool:
            nonlocal after
            ticks = {worker.name: worker.schedule.next_after(after) for _, worker in self.workers}
            tick = min(ticks.values())
            if dt.datetime.now(dt.UTC) < tick:
                return False
            due = [
                Job.for_tick(worker.name, domain, tick)
                for domain, worker in self.workers
                if ticks[worker.name] == tick
            ]
            await self.queue.enqueue(due)
            after = tick
            return True

        await keep_running("scheduler", round_, stop, poll_s, self.heartbeat)
