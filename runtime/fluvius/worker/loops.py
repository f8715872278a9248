"""The loops of the workers (relay, scheduler, job runner): each goes round until it is stopped,
outlives whatever a round raises (logged, then a pause that grows while rounds keep failing) and
beats a heartbeat, so that a loop which stopped or stalled can be told from one that waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger("fluvius.worker")
MAX_DOUBLINGS = 5  # the pause after failed rounds doubles from the poll interval up to 32 times it

Round = Callable[[], Awaitable[bool]]


class Heartbeat:
    """When a loop is due to go round again: now while a round runs, the end of its pause after."""

    def __init__(self) -> None:
        self.due = time.monotonic()

    def beat(self, pause_s: float = 0.0) -> None:
        """The loop goes round now, or (with `pause_s`) rests that long first."""
        self.due = time.monotonic() + pause_s

    @property
    def overdue_s(self) -> float:
        """How long past due the loop is (0 when it is on time)."""
        return max(time.monotonic() - self.due, 0.0)


async def keep_running(
    name: str, round_: Round, stop: asyncio.Event, poll_s: float, heartbeat: Heartbeat
) -> None:
    """Run `round_` until `stop` is set: again at once after a round that found work (True),
    after `poll_s` after one that found none, and after a pause doubling from `poll_s` while
    rounds fail. A round's error is logged; only the cancellation of this task ends the loop."""
    failures = 0
    while not stop.is_set():
        heartbeat.beat()
        try:
            busy = await round_()
            failures = 0
        except (Exception, asyncio.CancelledError) as error:
            if cancelled(error):
                raise
            failures += 1
            logger.exception("the %s failed (%s in a row); it tries again", name, failures)
            busy = False
        pause = 0.0 if busy else poll_s * 2 ** min(failures, MAX_DOUBLINGS)
        heartbeat.beat(pause)
        if pause:
            await wait(stop, pause)


def cancelled(error: BaseException) -> bool:
    """True when `error` is the cancellation of the current task, which must end it; a
    CancelledError that something it awaited raised on its own is a failure like any other."""
    task = asyncio.current_task()
    return isinstance(error, asyncio.CancelledError) and task is not None and task.cancelling() > 0


async def wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
