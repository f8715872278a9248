"""A stream relay as a process of its own, for a test to kill with SIGKILL.

python -m tests.streams.relay_process SERVICE DATABASE_URL BROKER_URL
"""

from __future__ import annotations

import asyncio
import sys

from fluvius.data import Database
from fluvius.streams.publishers import Target, publisher_for
from fluvius.streams.relay import StreamRelay
from tests.streams.service import MONEY, bank_service

BATCH = 5


async def main(name: str, database_url: str, broker_url: str) -> None:
    service = bank_service(name)
    database = Database(database_url)
    publisher = publisher_for(broker_url, Target(name, MONEY.name))
    relay = StreamRelay(service, MONEY, database, publisher, batch=BATCH)
    print("relaying", flush=True)
    await relay.run(asyncio.Event(), poll_s=0.02)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
