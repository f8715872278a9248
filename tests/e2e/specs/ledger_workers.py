"""Workers of the books domain, as the worker tests write them (copied over workers.py).

count-entries tallies each entry through a command to the tally named by LEDGER_TALLY; with
LEDGER_STALL set to a file, its first attempt at each entry sends the command, writes the file
and then hangs, so a test can kill the process mid-job; with LEDGER_DELAY, every attempt takes
that many seconds more. always-fails raises what LEDGER_FAILS_WITH names (default: an error).
heartbeat appends each tick to LEDGER_TICKS.
"""

import asyncio
import os
import uuid
from pathlib import Path

from ledger.books._generated.entry import EntryPosted
from ledger.books._generated.tally import CountEntry
from ledger.books.tally import Tally

from fluvius.domain import RecordedEvent
from fluvius.worker import WorkerContext


async def count_entries(event: RecordedEvent[EntryPosted], ctx: WorkerContext) -> None:
    tally = uuid.UUID(os.environ["LEDGER_TALLY"])
    await ctx.send(Tally, CountEntry(amount=event.data.amount), tally)
    stall = os.environ.get("LEDGER_STALL")
    if stall and ctx.attempt == 1:
        await asyncio.to_thread(Path(stall).write_text, str(event.id))
        await asyncio.sleep(3600)
    await asyncio.sleep(float(os.environ.get("LEDGER_DELAY", "0")))


FAILURES: dict[str, type[BaseException]] = {
    "error": RuntimeError,
    "cancel": asyncio.CancelledError,
    "exit": SystemExit,
}


async def always_fails(event: RecordedEvent[EntryPosted], ctx: WorkerContext) -> None:
    raise FAILURES[os.environ.get("LEDGER_FAILS_WITH", "error")](f"always fails on {event.id}")


async def heartbeat(ctx: WorkerContext) -> None:
    tick = ctx.scheduled_at.isoformat() if ctx.scheduled_at else "?"
    await asyncio.to_thread(_append, Path(os.environ["LEDGER_TICKS"]), f"{tick} {os.getpid()}\n")


def _append(path: Path, line: str) -> None:
    with path.open("a") as ticks:
        ticks.write(line)
