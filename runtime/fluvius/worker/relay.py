"""The relay: reads each domain's log past its checkpoint and queues one job per (worker, event).

It reads with the ordered log reader, so an event that commits late is queued when it becomes
safe to read, never skipped; the checkpoint moves only once the jobs are queued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fluvius.application.workers import EventWorker
from fluvius.data.reader import Checkpoint, Checkpoints, LogReader
from fluvius.observability.instruments import report_lag
from fluvius.worker.jobs import Job
from fluvius.worker.loops import Heartbeat, follow_logs

if TYPE_CHECKING:
    import asyncio

    from fluvius.data.commits import CommitSignals
    from fluvius.data.driver import Database
    from fluvius.service import Domain, Service
    from fluvius.worker.queues import JobQueue

BATCH = 500


def relay_name(domain: str) -> str:
    """The checkpoint name of a domain's relay."""
    return f"relay:{domain}"


def relayed(service: Service) -> list[tuple[Domain, list[EventWorker]]]:
    """The domains whose events the relay queues jobs for, each with its event workers."""
    return [
        (domain, workers)
        for domain in service.domains
        if (workers := [w for w in domain.workers if isinstance(w, EventWorker)])
    ]


class Relay:
    """Moves events from the logs of a service's domains to its workers' queue."""

    def __init__(self, service: Service, database: Database, queue: JobQueue) -> None:
        self.database = database
        self.queue = queue
        self.checkpoints = Checkpoints(service.tables.checkpoints)
        self.routes = relayed(service)
        self.heartbeat = Heartbeat()

    async def run_once(self) -> int:
        """Queue the jobs of the events past each checkpoint; return how many events were read."""
        read = 0
        for domain, workers in self.routes:
            name = relay_name(domain.name)
            after = await self._checkpoint(name)
            reader = LogReader(self.database.write, domain.log, domain.aggregates)
            events = await reader.read(after, limit=BATCH)
            if not events:
                continue
            jobs = [
                Job.for_event(worker.name, domain.name, event.id)
                for event in events
                for worker in workers
                if event.aggregate == worker.aggregate.name
                and event.name == worker.event.event_name
            ]
            await self.queue.enqueue(jobs, (name, Checkpoint.of(events[-1])))
            report_lag(name, (event.recorded_at for event in events))
            read += len(events)
        return read

    async def run(
        self, stop: asyncio.Event, poll_s: float, *, commits: CommitSignals | None = None
    ) -> None:
        """Relay until `stop` is set, polling every `poll_s` seconds when there is nothing new
        (and woken sooner by `commits`)."""
        channels = [domain.log.channel for domain, _ in self.routes]
        await follow_logs("relay", self.run_once, channels, stop, poll_s, self.heartbeat, commits)

    async def _checkpoint(self, name: str) -> Checkpoint:
        async with self.database.write.connect() as connection:
            return await self.checkpoints.load(connection, name)
