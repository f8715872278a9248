"""Workers: what runs after events and on schedules, in-process or on arq."""

from fluvius.application.workers import CronWorker, EventWorker
from fluvius.worker.context import WorkerContext
from fluvius.worker.inprocess import InProcessWorkers

__all__ = ["CronWorker", "EventWorker", "InProcessWorkers", "WorkerContext"]
