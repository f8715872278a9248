"""Workers: what runs after events and on schedules, in-process or on arq."""

from fluvius.worker.context import WorkerContext
from fluvius.worker.declarations import CronWorker, EventWorker

__all__ = ["CronWorker", "EventWorker", "WorkerContext"]
