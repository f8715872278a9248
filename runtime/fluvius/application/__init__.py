"""The application layer: runs commands against stored aggregates, and declares what runs
after events and on schedules (the workers' declarations).

The processor composes the domain model (`fluvius.domain`) with storage (`fluvius.data`); the
adapters (the HTTP app, the workers, the test harness) call it, and nothing below calls them.
"""

from fluvius.application.processor import (
    CommandContext,
    CommandProcessor,
    CommandResult,
    Scope,
)
from fluvius.application.workers import CronWorker, EventWorker

__all__ = [
    "CommandContext",
    "CommandProcessor",
    "CommandResult",
    "CronWorker",
    "EventWorker",
    "Scope",
]
