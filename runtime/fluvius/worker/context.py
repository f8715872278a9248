"""What a worker's function receives besides its event: a way to send commands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.application.processor import CommandContext, CommandProcessor, CommandResult

if TYPE_CHECKING:
    import uuid

    from fluvius.domain.aggregate import Aggregate
    from fluvius.domain.messages import Command, RecordedEvent
    from fluvius.media import MediaStore


@dataclass
class WorkerContext:
    """The context of one run of a worker: for an event, or for a scheduled tick."""

    processor: CommandProcessor
    worker: str
    attempt: int = 1
    event: RecordedEvent[Any] | None = None
    scheduled_at: dt.datetime | None = None
    media: MediaStore | None = None
    _sent: int = field(default=0, init=False)

    @property
    def services(self) -> Any:
        """The service's dependencies, as handlers see them in `self.services`."""
        return self.processor.services

    async def send(
        self,
        aggregate: type[Aggregate[Any]],
        command: Command,
        aggregate_id: uuid.UUID | None = None,
        *,
        tenant: str | None = None,
    ) -> CommandResult:
        """Run `command` as this worker, caused by its event (or tick).

        The command's id derives from the worker, its cause and the order of sends, so a worker
        that is retried, or runs twice, records each of its commands once.
        """
        self._sent += 1
        cause = str(self.event.id) if self.event is not None else _tick(self.scheduled_at)
        metadata = self.event.metadata if self.event is not None else None
        context = CommandContext(
            user=f"worker:{self.worker}",
            tenant=tenant if tenant is not None else (metadata.tenant if metadata else None),
            command_id=f"{self.worker}:{cause}:{self._sent}",
            correlation_id=metadata.correlation_id if metadata else None,
            causation_id=str(self.event.id) if self.event is not None else None,
        )
        return await self.processor.execute(aggregate, command, aggregate_id, context=context)


def _tick(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment is not None else "unscheduled"
