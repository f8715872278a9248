"""The loops of the workers (relay, scheduler, job runner): each goes round until it is stopped,
outlives whatever a round raises (logged, then a pause that grows while rounds keep failing) and
beats a heartbeat, so that a loop which stopped or stalled can be told from one that waits.
The readers of the logs (relays, projectors) are also woken by commits (`fluvius.data.commits`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fluvius.data.commits import CommitSignals

logger = logging.getLogger("fluvius.worker")
MAX_DOUBLINGS = 5  # the pause after failed rounds doubles from the poll interval up to 32 times it
SETTLE_S = 0.02  # the first pause after a round that found work, or after a commit

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
    name: str,
    round_: Round,
    stop: asyncio.Event,
    poll_s: float,
    heartbeat: Heartbeat,
    *,
    wake: asyncio.Event | None = None,
) -> None:
    """Run `round_` until `stop` is set: again at once after a round that found work (True).

    After rounds that find none the loop pauses, SETTLE_S at first and doubling up to `poll_s`:
    what a commit wrote may not be readable at once (the gap-safe reader waits for older
    transactions to end). Setting `wake` (a commit) ends a pause of `poll_s` and starts the
    pauses from SETTLE_S again; it does not cut the shorter pauses, so that under a stream of
    commits a loop whose rounds find nothing yet goes round every SETTLE_S at most. While rounds
    fail, the pause doubles from `poll_s` and `wake` is ignored. A round's error is logged; only
    the cancellation of this task ends the loop."""
    failures = 0
    settle = poll_s
    while not stop.is_set():
        heartbeat.beat()
        if wake is not None and wake.is_set():
            wake.clear()  # what commits from now on ends the next pause
            settle = SETTLE_S
        try:
            busy = await round_()
            failures = 0
        except (Exception, asyncio.CancelledError) as error:
            if cancelled(error):
                raise
            failures += 1
            logger.exception("the %s failed (%s in a row); it tries again", name, failures)
            busy = False
        if failures:
            pause = poll_s * 2 ** min(failures, MAX_DOUBLINGS)
        elif busy:
            pause, settle = 0.0, SETTLE_S
        else:
            pause, settle = min(settle, poll_s), min(settle * 2, poll_s)
        heartbeat.beat(pause)
        if pause:
            idle = pause >= poll_s and not failures
            await wait(stop, pause, wake=wake if idle else None)


async def follow_logs(
    name: str,
    run_once: Callable[[], Awaitable[int]],
    channels: Iterable[str],
    stop: asyncio.Event,
    poll_s: float,
    heartbeat: Heartbeat,
    commits: CommitSignals | None,
) -> None:
    """Run the rounds of a reader of logs (`run_once` returns how many events it read) with
    `keep_running`, woken by `commits` to the logs of `channels` when given."""

    async def round_() -> bool:
        return await run_once() > 0

    wake = await commits.wake_event(channels) if commits else None
    await keep_running(name, round_, stop, poll_s, heartbeat, wake=wake)


def cancelled(error: BaseException) -> bool:
    """True when `error` is the cancellation of the current task, which must end it; a
    CancelledError that something it awaited raised on its own is a failure like any other."""
    task = asyncio.current_task()
    return isinstance(error, asyncio.CancelledError) and task is not None and task.cancelling() > 0


async def wait(stop: asyncio.Event, seconds: float, *, wake: asyncio.Event | None = None) -> None:
    """Sleep `seconds`, or less if `stop` (or `wake`) is set meanwhile."""
    events = [stop] if wake is None else [stop, wake]
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
