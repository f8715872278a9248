"""Commit signals: the readers of a log (live feeds, relays, projectors) learn at once that a
command committed to it, instead of waiting for their next poll.

On PostgreSQL each command's transaction NOTIFYs its log's channel (fluvius.data.store), and one
connection per process, outside the pool, LISTENs to the channels its readers asked for: a
commit on any instance wakes the readers of every instance. On SQLite (one host) a commit wakes
the readers of its own process only, whatever log it wrote to. A reader still polls besides: a
signal only shortens its wait, and one that is lost (the listening connection dropped, a
command of another process on SQLite) delays it by a poll at most.

Once a command of this process has committed, it also hands what it wrote to the readers that
take it (`on_written`): the events as recorded and the aggregate's state after them, which such
a reader then need not read from the log, decode or fold again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from fluvius.domain.messages import Event, RecordedEvent, State

Taker = Callable[[Sequence["RecordedEvent[Event]"], "State"], Any]
"""Takes a command's events as recorded and its aggregate's state after them."""

logger = logging.getLogger("fluvius.data")
RECONNECT_S = 1.0  # between attempts to listen again after the listening connection was lost


class CommitSignals:
    """Sets the events of the readers of a log when a command commits to it."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self._waiting: dict[str, list[asyncio.Event]] = defaultdict(list)
        self._takers: dict[str, list[Taker]] = defaultdict(list)
        self._listener: asyncpg.Connection | None = None
        self._connecting = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None

    @property
    def postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    async def listen(self, channels: Iterable[str], wake: asyncio.Event) -> None:
        """Set `wake` whenever a command commits to the log of one of `channels`
        (`DomainLog.channel`). On PostgreSQL channels that cannot be listened to are logged and
        left to polling."""
        new = []
        for channel in channels:
            if channel not in self._waiting:
                new.append(channel)
            self._waiting[channel].append(wake)
        if new and self.postgres and not await self._listen(new):
            logger.warning("cannot LISTEN on %s: their readers poll the log", ", ".join(new))

    def forget(self, channels: Iterable[str], wake: asyncio.Event, take: Taker) -> None:
        """Stop setting `wake` and calling `take` for `channels` (which stay listened to)."""
        for channel in channels:
            with contextlib.suppress(ValueError):
                self._waiting.get(channel, []).remove(wake)
            with contextlib.suppress(ValueError):
                self._takers.get(channel, []).remove(take)

    async def wake_event(self, channels: Iterable[str]) -> asyncio.Event:
        """A new event, set whenever a command commits to the log of one of `channels`."""
        wake = asyncio.Event()
        await self.listen(channels, wake)
        return wake

    def on_written(self, channel: str, take: Taker) -> None:
        """Call `take(events, state)` when a command of this process has committed to the log
        of `channel`."""
        self._takers[channel].append(take)

    def written(self, channel: str, events: Sequence[RecordedEvent[Event]], state: State) -> None:
        """Hand a command's events, as committed to the log of `channel`, and its aggregate's
        state after them to the takers of this process."""
        for take in self._takers.get(channel, ()):
            take(events, state)

    def wake_all(self) -> None:
        """Wake every reader of this process: a command of its committed on SQLite (where no
        NOTIFY carries it), or signals may have been missed."""
        for waiting in self._waiting.values():
            for wake in waiting:
                wake.set()

    async def close(self) -> None:
        """Stop listening: no reader is woken or handed anything any more."""
        self._waiting.clear()
        self._takers.clear()
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def _listen(self, channels: list[str]) -> bool:
        """LISTEN on `channels`, connecting first when needed; False when that failed. One
        operation at a time: a connection runs one statement at once."""
        try:
            async with self._connecting:
                if self._listener is None or self._listener.is_closed():
                    url = self.url.set(drivername="postgresql")
                    self._listener = await asyncpg.connect(
                        url.render_as_string(hide_password=False),
                        server_settings={"application_name": f"fluvius:{os.getpid()}"},
                    )
                    self._listener.add_termination_listener(self._lost)
                for channel in channels:
                    await self._listener.add_listener(channel, self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        return True

    def _lost(self, _connection: object) -> None:
        """The listening connection closed: listen again, in the background, until it works."""
        self._listener = None
        if self._waiting and self._reconnecting is None:
            self._reconnecting = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(RECONNECT_S)
                if await self._listen(list(self._waiting)):
                    self.wake_all()  # what was missed meanwhile: a round finds it
                    return
        finally:
            self._reconnecting = None

    def _notified(self, _connection: object, _pid: int, channel: str, _payload: str) -> None:
        for wake in self._waiting.get(channel, ()):
            wake.set()
