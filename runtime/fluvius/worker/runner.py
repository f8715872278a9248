"""Without Redis the job table is the queue: the runner claims due jobs and runs each under a lease.

A claimed job's row is its lease: the runner renews it (its `updated_at`) every
`lease_s / RENEWALS` seconds while the job runs, and a running job whose lease was not renewed
for `lease_s` (its process died, or lost the database) goes back to the queue, for any process
to claim. Whatever goes wrong in claiming, running or recording a job is logged with the job's
id, and the runner goes on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from fluvius.worker.loops import Heartbeat, cancelled, keep_running

if TYPE_CHECKING:
    from fluvius.data.driver import Database
    from fluvius.worker.execution import Executor
    from fluvius.worker.jobs import Job, JobStore

logger = logging.getLogger("fluvius.worker")
LEASE_S = 10.0
RENEWALS = 5  # per lease: a lease outlives four missed renewals


class JobRunner:
    """Claims due jobs from the job table, up to `concurrency` at a time, and runs them."""

    def __init__(
        self,
        executor: Executor,
        database: Database,
        store: JobStore,
        *,
        concurrency: int,
        poll_s: float,
        lease_s: float = LEASE_S,
    ) -> None:
        self.executor = executor
        self.database = database
        self.store = store
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.lease = dt.timedelta(seconds=lease_s)
        self.heartbeat = Heartbeat()
        self._running: dict[asyncio.Task[None], tuple[Job, int]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs until `stop` is set, then let the running ones finish (cancelled, they are
        cancelled too, and claimed again elsewhere once their leases run out)."""
        renewal = asyncio.create_task(
            keep_running(
                "lease renewal",
                self._renew,
                asyncio.Event(),
                self.lease.total_seconds() / RENEWALS,
                Heartbeat(),
            ),
            name="fluvius-lease-renewal",
        )
        try:
            await keep_running("executor", self._claim, stop, self.poll_s, self.heartbeat)
            if self._running:
                await asyncio.wait(set(self._running))
        finally:
            for task in [renewal, *self._running]:
                task.cancel()

    async def _claim(self) -> bool:
        """Claim due jobs for the free slots and start them; with no slot free, wait for one."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            await asyncio.wait(
                set(self._running), timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED
            )
            return True
        async with self.database.write.begin() as connection:
            await self.store.release_stale(connection, self.lease)
            claimed = await self.store.claim_due(connection, free)
        for job, attempt in claimed:
            task = asyncio.create_task(self._run(job, attempt), name=f"fluvius-job:{job.id}")
            self._running[task] = (job, attempt)
            task.add_done_callback(self._running.pop)
        return bool(claimed)

    async def _run(self, job: Job, attempt: int) -> None:
        try:  # a job stuck past its timeout (recording its outcome) is given up: its lease lapses
            async with asyncio.timeout(self.executor.timeout_s + self.lease.total_seconds()):
                await self.executor.run(job, attempt)
        except (Exception, asyncio.CancelledError) as error:
            if cancelled(error):
                raise
            logger.exception(
                "%s (attempt %s) could not run or record its outcome; it is claimed again "
                "once its lease runs out",
                job.id,
                attempt,
            )

    async def _renew(self) -> bool:
        if self._running:
            async with self.database.write.begin() as connection:
                await self.store.renew(connection, list(self._running.values()))
        return False
