"""Read replicas: queries spread across them in turn, each as fresh as its consistency token asks.

A read without a token takes the next replica that answers. A read with a token takes the next
replica that has replayed the token's LSN (`pg_last_wal_replay_lsn()`), waiting a bounded time
for one to; otherwise it reads the primary, as every read does when no replica answers, and as a
token without an LSN (written with no replica configured) does. A replica whose connection fails
is left out, and probed in the background, on a doubling backoff, until it answers again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fluvius.data.failures import server_unreachable

if TYPE_CHECKING:
    from fluvius.data.consistency import ConsistencyToken

logger = logging.getLogger(__name__)

T = TypeVar("T")
Source = Literal["replica", "primary"]

FIRST_PAUSE_S = 0.002  # between checks of a lagging replica's replay, doubling
MAX_PAUSE_S = 0.05
FIRST_PROBE_S = 0.5  # before probing a replica that failed, doubling
MAX_PROBE_S = 30.0
# SQLSTATE of a standby's query cancelled by a conflict with replay: read elsewhere instead.
_RECOVERY_CONFLICT = "40001"
_LONG_PAGE_HEADER = 40  # bytes, the first page of a WAL segment's header (others: 24)
_REPLAYED = text("SELECT pg_last_wal_replay_lsn()::text")
_WRITTEN = text("SELECT pg_current_wal_lsn()::text")


def lsn_number(lsn: str) -> int:
    """A PostgreSQL LSN (`16/B374D848`) as a number, for comparing."""
    high, low = lsn.split("/")
    return int(high, 16) << 32 | int(low, 16)


def lsn_text(number: int) -> str:
    """The LSN `number` as PostgreSQL writes it."""
    return f"{number >> 32:X}/{number & 0xFFFFFFFF:X}"


def written_by(insert_lsn: str, block_size: int) -> str:
    """The end of the WAL records written before the insert position `insert_lsn`
    (`pg_current_wal_insert_lsn()`), as a standby's `pg_last_wal_replay_lsn()` reaches it.

    The insert position is where the next record goes: at the last record's end, or, when that
    end fell on a page boundary, past the next page's header (24 bytes; 40 on a segment's first
    page), where no standby's replay position (always a record's end) will ever be. So a position
    within a page's first 40 bytes stands for the page's start: the only record that can end
    between the two is the last one, which then began on an earlier page.
    """
    position = lsn_number(insert_lsn)
    offset = position % block_size
    return lsn_text(position - offset if offset <= _LONG_PAGE_HEADER else position)


def _cancelled_by_replay(error: BaseException) -> bool:
    """True when a standby cancelled the query for the WAL it replays (it may run elsewhere)."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) == _RECOVERY_CONFLICT


@dataclass(frozen=True)
class Read(Generic[T]):
    """What a query returned, and where it ran."""

    value: T
    source: Source


class Replica:
    """One replica's engine, whether it answers, and the WAL it was last seen to have replayed."""

    def __init__(self, name: str, engine: AsyncEngine) -> None:
        self.name = name
        self.engine = engine
        self.up = True
        self.standby = True  # false once it says it replays nothing (not a standby)
        self.replayed = 0
        self.probe: asyncio.Task[None] | None = None

    async def has_replayed(self, connection: AsyncConnection, lsn: int) -> bool:
        """True when the replica has replayed the WAL up to `lsn`; asks it unless known."""
        if self.replayed >= lsn:
            return True
        replayed = (await connection.execute(_REPLAYED)).scalar()
        if replayed is None:
            self.standby = False
            return False
        self.replayed = max(self.replayed, lsn_number(replayed))
        return self.replayed >= lsn


class Replicas:
    """The replicas of one primary, and the reads they serve in turn.

    `primary` is the engine that reads the primary when no replica will do.
    """

    def __init__(self, primary: AsyncEngine, replicas: Sequence[AsyncEngine]) -> None:
        self.primary = primary
        self.replicas = tuple(
            Replica(f"replica{number}", engine) for number, engine in enumerate(replicas, 1)
        )
        self._turns = itertools.count()

    def __len__(self) -> int:
        return len(self.replicas)

    async def read(
        self,
        query: Callable[[AsyncConnection], Awaitable[T]],
        token: ConsistencyToken | None = None,
        *,
        wait_s: float = 0.0,
    ) -> Read[T]:
        """Run `query` on a replica that includes `token`'s write (any, without a token), waiting
        up to `wait_s` for one to replay it; else on the primary."""
        if token is None:
            return await self._on_replica(query, None, 0.0)
        if token.lsn is None:
            return await self._on_primary(query)
        return await self._on_replica(query, lsn_number(token.lsn), wait_s)

    async def _on_replica(
        self, query: Callable[[AsyncConnection], Awaitable[T]], lsn: int | None, wait_s: float
    ) -> Read[T]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        pause = FIRST_PAUSE_S
        while candidates := self._candidates(lsn is not None):
            for replica in candidates:
                try:
                    async with replica.engine.connect() as connection:
                        if lsn is None or await replica.has_replayed(connection, lsn):
                            return Read(await query(connection), "replica")
                except Exception as error:
                    if server_unreachable(error):
                        self._down(replica, error)
                    elif not _cancelled_by_replay(error):
                        raise
            if lsn is None or loop.time() + pause > deadline:
                break
            await asyncio.sleep(pause)
            pause = min(2 * pause, MAX_PAUSE_S)
        return await self._on_primary(query)

    async def _on_primary(self, query: Callable[[AsyncConnection], Awaitable[T]]) -> Read[T]:
        async with self.primary.connect() as connection:
            return Read(await query(connection), "primary")

    def _candidates(self, need_standby: bool) -> list[Replica]:
        """The replicas that answer, starting from the next one in turn."""
        count = len(self.replicas)
        if count == 0:
            return []
        start = next(self._turns) % count
        turn = self.replicas[start:] + self.replicas[:start]
        return [r for r in turn if r.up and (r.standby or not need_standby)]

    def _down(self, replica: Replica, error: BaseException) -> None:
        """Leave `replica` out until a probe finds it answering again."""
        if not replica.up:
            return
        replica.up = False
        logger.warning("%s does not answer, reads go elsewhere: %r", replica.name, error)
        replica.probe = asyncio.get_running_loop().create_task(self._probe(replica))

    async def _probe(self, replica: Replica) -> None:
        await replica.engine.dispose()  # its pooled connections are to the server that failed
        pause = FIRST_PROBE_S
        while True:
            await asyncio.sleep(pause)
            try:
                async with replica.engine.connect() as connection:
                    await connection.execute(_REPLAYED)
            except Exception as error:
                if not server_unreachable(error):
                    logger.warning("%s fails its probe: %r", replica.name, error)
                pause = min(2 * pause, MAX_PROBE_S)
                continue
            replica.up, replica.standby, replica.replayed = True, True, 0
            logger.warning("%s answers again, reads use it", replica.name)
            return

    async def lags(self, primary: AsyncConnection) -> dict[str, int | None]:
        """How many bytes of the primary's WAL (read on `primary`) each replica has yet to
        replay; None for a replica left out, or that does not answer."""
        written = lsn_number((await primary.execute(_WRITTEN)).scalar_one())
        lags: dict[str, int | None] = {}
        for replica in self.replicas:
            lags[replica.name] = None
            if not replica.up:
                continue
            try:
                async with replica.engine.connect() as connection:
                    replayed = (await connection.execute(_REPLAYED)).scalar()
            except Exception as error:
                if not server_unreachable(error):
                    raise
                continue
            if replayed is not None:
                lags[replica.name] = max(written - lsn_number(replayed), 0)
        return lags

    async def dispose(self) -> None:
        """Stop the probes; close every replica's pooled connections."""
        for replica in self.replicas:
            if replica.probe is not None:
                replica.probe.cancel()
                replica.probe = None
            await replica.engine.dispose()
