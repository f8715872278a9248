"""Workers: in-process without Redis, and arq worker processes on Redis.

The ledger service (tests/e2e/specs) tallies every posted entry through a worker that sends a
command, has a worker that always fails, and a heartbeat on every minute.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database, EventStore, storage_of
from fluvius.domain import EventMetadata
from fluvius.service import Service
from fluvius.settings import Settings
from fluvius.testing.api import serving
from fluvius.testing.api import test_settings as api_settings
from fluvius.worker.inprocess import InProcessWorkers
from fluvius.worker.jobs import Counts, Job, JobStore
from fluvius.worker.queues import DatabaseQueue
from fluvius.worker.relay import Relay
from tests.e2e.projects import fluvius, fluvius_fails, import_service
from tests.services import REDIS_URL, require_redis
from tests.tables import create_all

pytestmark = pytest.mark.slow

SPECS = Path(__file__).parent / "specs"
ENTRIES = 30
WAIT_S = 60.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def ledger_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger project, generated once, with the test's worker functions."""
    root = tmp_path_factory.mktemp("ledger") / "ledger"
    previous = os.environ.get("FLUVIUS_CACHE_DIR")
    os.environ["FLUVIUS_CACHE_DIR"] = str(root.parent / "cache")
    try:
        fluvius(
            "new", "project", "ledger", "--spec", str(SPECS / "ledger.yaml"), "--dir", str(root)
        )
    finally:
        if previous is None:
            del os.environ["FLUVIUS_CACHE_DIR"]
        else:
            os.environ["FLUVIUS_CACHE_DIR"] = previous
    shutil.copy(SPECS / "ledger_workers.py", root / "ledger/books/workers.py")
    return root


@dataclass
class Ledger:
    """The ledger service on a database: post entries, and read what the workers did."""

    service: Service
    database: Database
    tally: uuid.UUID

    @property
    def processor(self) -> CommandProcessor:
        return CommandProcessor(self.database)

    def aggregate(self, name: str) -> Any:
        return self.service.domain("books").aggregate(name)

    async def post(self, count: int) -> list[int]:
        """`count` entries, posted by concurrent writers; returns their amounts."""
        entry = self.aggregate("entry")
        amounts = [random.randint(1, 1000) for _ in range(count)]
        await asyncio.gather(
            *(
                self.processor.execute(
                    entry, entry.handler_for("post-entry").payload(amount=amount)
                )
                for amount in amounts
            )
        )
        return amounts

    async def counted(self) -> tuple[int, int]:
        """(entries, total) of the tally."""
        tally = self.aggregate("tally")
        async with self.database.read.connect() as connection:
            state = await EventStore(connection, storage_of(tally).log).load_state(
                tally, self.tally, tenant=None
            )
        assert state is not None
        return state.entries, state.total

    async def wait_for(self, entries: int) -> tuple[int, int]:
        """The tally once it counts `entries` (or when the wait runs out)."""
        for _ in range(int(WAIT_S / 0.1)):
            counted = await self.counted()
            if counted[0] >= entries:
                await asyncio.sleep(0.5)  # any duplicate would land now
                return await self.counted()
            await asyncio.sleep(0.1)
        return await self.counted()

    async def jobs(self) -> dict[str, Any]:
        async with self.database.read.connect() as connection:
            return await JobStore(self.service.tables).counts(connection)

    async def dead_letters(self) -> list[dict[str, Any]]:
        async with self.database.read.connect() as connection:
            return await JobStore(self.service.tables).dead(connection)


@pytest.fixture
async def ledger(
    ledger_root: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Ledger]:
    # The heartbeat ticks every minute; a test that crosses one must not see it fail.
    monkeypatch.setenv("LEDGER_TICKS", str(tmp_path / "ticks"))
    service = import_service(ledger_root, "ledger")
    database = Database(database_url)
    await create_all(database, (service.metadata,))
    tally_type = service.domain("books").aggregate("tally")
    opened = await CommandProcessor(database).execute(
        tally_type, tally_type.handler_for("open-tally").payload()
    )
    monkeypatch.setenv("LEDGER_TALLY", str(opened.aggregate_id))
    try:
        yield Ledger(service, database, opened.aggregate_id)
    finally:
        await database.dispose()


def _settings(url: str, **changes: Any) -> Settings:
    settings = Settings(
        database_url=url,
        worker_poll_s=0.05,
        worker_retry_base_s=0.05,
        worker_timeout_s=10,
    )
    return replace(settings, **changes)


async def test_in_process_every_event_reaches_each_worker_once(
    ledger: Ledger, database_url: str
) -> None:
    workers = InProcessWorkers(
        ledger.service, ledger.database, ledger.processor, _settings(database_url)
    )
    await workers.start()
    try:
        amounts = await ledger.post(ENTRIES)
        assert await ledger.wait_for(ENTRIES) == (ENTRIES, sum(amounts))
        for _ in range(int(WAIT_S / 0.1)):
            if (await ledger.jobs()).get("always-fails") and (await ledger.jobs())[
                "always-fails"
            ].dead == ENTRIES:
                break
            await asyncio.sleep(0.1)
    finally:
        await workers.stop()
    jobs = await ledger.jobs()
    assert jobs["count-entries"].done == ENTRIES
    assert (jobs["count-entries"].retrying, jobs["count-entries"].dead) == (0, 0)
    assert jobs["always-fails"].dead == ENTRIES
    assert len(await ledger.dead_letters()) == ENTRIES


async def test_a_dead_job_is_retried_on_request(
    ledger: Ledger, database_url: str, ledger_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(database_url)
    workers = InProcessWorkers(ledger.service, ledger.database, ledger.processor, settings)
    await workers.start()
    try:
        await ledger.post(1)
        letters = await _wait_for_letters(ledger, 1)
        monkeypatch.setenv("FLUVIUS_DATABASE_URL", database_url)
        output = await asyncio.to_thread(
            fluvius, "workers", "retry", str(letters[0]["id"]), cwd=ledger_root
        )
        assert "queued again" in output
        again = await asyncio.to_thread(
            fluvius_fails, "workers", "retry", str(letters[0]["id"]), cwd=ledger_root
        )
        assert f"dead letter {letters[0]['id']} was queued again at" in again
        await _wait_for_letters(ledger, 1, requeued=True)
    finally:
        await workers.stop()
    jobs = await ledger.jobs()
    assert jobs["always-fails"].dead == 1
    status = await asyncio.to_thread(fluvius, "workers", cwd=ledger_root)
    assert "always-fails" in status
    assert "waiting" in status
    assert "dead letters" in status


async def _wait_for_letters(
    ledger: Ledger, count: int, *, requeued: bool = False
) -> list[dict[str, Any]]:
    """The open dead letters, once there are `count` (and, with `requeued`, one was retried)."""
    letters: list[dict[str, Any]] = []
    for _ in range(int(WAIT_S / 0.1)):
        async with ledger.database.read.connect() as connection:
            table = ledger.service.tables.dead_letters
            total = (await connection.execute(select(func.count()).select_from(table))).scalar_one()
        letters = await ledger.dead_letters()
        if len(letters) >= count and (not requeued or total > count):
            return letters
        await asyncio.sleep(0.1)
    pytest.fail(f"no {count} dead letters after {WAIT_S}s: {letters}")


async def test_the_relay_resumes_after_its_checkpoint_and_waits_for_late_commits(
    ledger: Ledger, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: a late commit cannot happen")
    await ledger.post(3)
    queue = _queue(ledger)
    relay = Relay(ledger.service, ledger.database, queue)
    assert await _relay_until(relay, 4) == 4  # the tally's opening, and three entries

    entry = ledger.aggregate("entry")
    connection = await ledger.database.write.connect()
    late = await connection.begin()
    await EventStore(connection, storage_of(entry).log).append(
        entry.name,
        uuid.uuid4(),
        0,
        [entry.events["entry-posted"].event(amount=7)],
        EventMetadata(user="late"),
        dt.datetime.now(dt.UTC),
    )
    await ledger.post(1)
    restarted = Relay(ledger.service, ledger.database, queue)
    assert await restarted.run_once() == 0, "an event past an open transaction must wait"
    await late.commit()
    await connection.close()
    assert await _relay_until(restarted, 2) == 2
    jobs = await ledger.jobs()
    assert jobs["count-entries"].waiting == 3 + 2
    assert await restarted.run_once() == 0


async def _relay_until(relay: Relay, events: int) -> int:
    """Run the relay until it has read `events` events (a cluster-wide open transaction may
    hold the reader back for a while; it never skips)."""
    read = 0
    for _ in range(int(WAIT_S / 0.05)):
        read += await relay.run_once()
        if read >= events:
            return read
        await asyncio.sleep(0.05)
    return read


# What the in-process workers survive -------------------------------------------------------


async def test_a_job_of_an_undeclared_worker_is_a_dead_letter_and_the_others_run(
    ledger: Ledger, database_url: str
) -> None:
    retired = Job.for_event("retired-worker", "books", uuid.uuid4())
    async with ledger.database.write.begin() as connection:
        await JobStore(ledger.service.tables).enqueue(connection, [retired])
    async with _running(ledger, _settings(database_url)) as workers:
        amounts = await ledger.post(3)
        assert await ledger.wait_for(3) == (3, sum(amounts))
        letters = await _until(
            lambda: _letters_of(ledger, "retired-worker"), "the retired worker's dead letter"
        )
        assert workers.problem() is None
    assert letters[0]["job_key"] == retired.key
    assert "retired-worker" in letters[0]["error"]
    assert "not declared" in letters[0]["error"]
    assert (await ledger.jobs())["retired-worker"].dead == 1


@pytest.mark.parametrize("failure", ["cancel", "exit"])
async def test_a_worker_that_raises_anything_is_retried_then_dead(
    ledger: Ledger, database_url: str, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    monkeypatch.setenv("LEDGER_FAILS_WITH", failure)
    async with _running(ledger, _settings(database_url)) as workers:
        first = await ledger.post(3)
        letters = await _until(
            lambda: _letters_of(ledger, "always-fails", count=3), "three dead letters"
        )
        second = await ledger.post(2)
        assert await ledger.wait_for(5) == (5, sum(first + second))
        assert workers.problem() is None
    assert {letter["attempts"] for letter in letters} == {2}
    assert all("always fails on" in letter["error"] for letter in letters)


async def test_the_workers_outlive_a_database_restart(ledger: Ledger, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite database has no server to restart")
    database = Database(database_url, pool_size=2)
    processor = CommandProcessor(database)
    workers = InProcessWorkers(ledger.service, database, processor, _settings(database_url))
    await workers.start()
    try:
        await ledger.post(ENTRIES)
        for _ in range(8):  # again and again while the jobs run
            await asyncio.sleep(0.15)
            await _terminate_connections(database_url)
        await ledger.database.dispose()  # the test's own connections were cut too
        settled = await _until(lambda: _settled(ledger, ENTRIES), "the jobs to settle")
        amounts = await ledger.post(5)
        before = await ledger.counted()
        assert settled.done <= before[0] <= ENTRIES, "each finished job counted once"
        after = await ledger.wait_for(before[0] + 5)
        assert after == (before[0] + 5, before[1] + sum(amounts))
        assert workers.problem() is None
    finally:
        await workers.stop()
        await database.dispose()


async def test_the_workers_outlive_an_exhausted_pool(ledger: Ledger, database_url: str) -> None:
    database = Database(database_url, pool_size=2, pool_timeout_s=0.2)
    processor = CommandProcessor(database)
    workers = InProcessWorkers(ledger.service, database, processor, _settings(database_url))
    await workers.start()
    try:
        async with database.write.connect(), database.write.connect():  # every connection
            amounts = await ledger.post(5)
            await asyncio.sleep(1.0)  # the loops time out on the pool, again and again
            assert (await ledger.counted())[0] == 0
        assert await ledger.wait_for(5) == (5, sum(amounts))
        assert workers.problem() is None
    finally:
        await workers.stop()
        await database.dispose()


async def test_a_failure_to_record_an_outcome_is_logged_and_the_job_runs_again(
    ledger: Ledger, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with _running(ledger, _settings(database_url)) as workers:
        store = workers.executor.store
        record = store.succeed
        failed: list[Job] = []

        async def succeed_but_once(connection: Any, job: Job) -> None:
            if job.worker == "count-entries" and not failed:
                failed.append(job)
                raise ConnectionResetError("the database went away")
            await record(connection, job)

        store.succeed = succeed_but_once  # type: ignore[method-assign]
        [amount] = await ledger.post(1)
        await _until(lambda: _done(ledger, "count-entries", 1), "the job to run again", 30)
        others = await ledger.post(2)
        assert await ledger.wait_for(3) == (3, amount + sum(others))
        assert workers.problem() is None
    assert failed
    assert any(
        failed[0].id in record.getMessage() and record.exc_info for record in caplog.records
    ), "the failure is logged with the job's id"


async def test_a_job_held_by_a_dead_process_is_taken_again_within_seconds(
    ledger: Ledger, database_url: str
) -> None:
    [amount] = await ledger.post(1)
    await _relay_until(Relay(ledger.service, ledger.database, _queue(ledger)), 2)
    async with ledger.database.write.begin() as connection:  # a process that then died
        held = await JobStore(ledger.service.tables).claim_due(connection, 10)
    assert {job.worker for job, _ in held} == {"count-entries", "always-fails"}
    settings = _settings(database_url, worker_timeout_s=300)
    started = time.monotonic()
    async with _running(ledger, settings):
        await _until(lambda: _done(ledger, "count-entries", 1), "the job to be taken", 20)
    assert time.monotonic() - started < 15
    assert await ledger.counted() == (1, amount)


async def test_a_job_whose_every_attempt_died_with_its_process_is_dead(
    ledger: Ledger, database_url: str
) -> None:
    await ledger.post(1)
    await _relay_until(Relay(ledger.service, ledger.database, _queue(ledger)), 2)
    jobs = ledger.service.tables.jobs
    async with ledger.database.write.begin() as connection:  # its third attempt's process died
        await connection.execute(
            jobs.update()
            .where(jobs.c.worker == "count-entries")
            .values(status="running", attempts=3, updated_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    async with _running(ledger, _settings(database_url)):
        [letter] = await _until(lambda: _letters_of(ledger, "count-entries"), "a dead letter")
    assert letter["attempts"] == 4
    assert "attempt 4 is past the last of 3" in letter["error"]
    assert await ledger.counted() == (0, 0), "the worker did not run again"


async def test_a_job_that_runs_longer_than_its_lease_is_not_taken_from_its_process(
    ledger: Ledger, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the job outlasts two leases; a lease survives an event loop stalled for 2.4 s (loaded CI)
    monkeypatch.setenv("LEDGER_DELAY", "7")
    settings = _settings(database_url)
    async with _running(ledger, settings, lease_s=3), _running(ledger, settings, lease_s=3):
        await ledger.post(2)
        await _until(lambda: _done(ledger, "count-entries", 2), "both jobs")
    jobs = ledger.service.tables.jobs
    async with ledger.database.read.connect() as connection:
        attempts = await connection.execute(
            select(jobs.c.attempts).where(jobs.c.worker == "count-entries")
        )
        assert list(attempts.scalars()) == [1, 1], "each job was claimed once"


async def test_readyz_is_503_while_a_worker_loop_is_stalled_or_stopped(
    ledger: Ledger, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(
        api_settings(ledger.service, database_url),
        workers_in_process=True,
        worker_poll_s=0.05,
    )
    async with serving(ledger.service, settings) as api, api.client() as http:
        await _until(lambda: _ready(http, HTTPStatus.OK), "ready")
        async with _holding_the_job_table(ledger.database):
            stalled = await _until(
                lambda: _ready(http, HTTPStatus.SERVICE_UNAVAILABLE), "not ready"
            )
        await _until(lambda: _ready(http, HTTPStatus.OK), "ready again")
        [relay] = [task for task in asyncio.all_tasks() if task.get_name() == "fluvius-relay"]
        relay.cancel()
        stopped = await _until(lambda: _ready(http, HTTPStatus.SERVICE_UNAVAILABLE), "stopped")
    for response, word in ((stalled, "stalled"), (stopped, "relay has stopped")):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["code"] == "workers-unavailable"
        assert word in response.json()["detail"]
    assert "fluvius-relay stopped before the workers did" in caplog.text


@asynccontextmanager
async def _running(
    ledger: Ledger, settings: Settings, **options: Any
) -> AsyncIterator[InProcessWorkers]:
    """The ledger's workers running in this process, stopped at the end of the block."""
    workers = InProcessWorkers(
        ledger.service, ledger.database, ledger.processor, settings, **options
    )
    await workers.start()
    try:
        yield workers
    finally:
        await workers.stop()


async def _until(check: Callable[[], Awaitable[T | None]], what: str, seconds: float = WAIT_S) -> T:
    """What `check` returns once it returns something, polled every 0.1 s for `seconds`."""
    for _ in range(int(seconds / 0.1)):
        if (found := await check()) is not None:
            return found
        await asyncio.sleep(0.1)
    pytest.fail(f"waited {seconds}s for {what}")


async def _letters_of(ledger: Ledger, worker: str, count: int = 1) -> list[dict[str, Any]] | None:
    letters = [letter for letter in await ledger.dead_letters() if letter["worker"] == worker]
    return letters if len(letters) >= count else None


async def _done(ledger: Ledger, worker: str, count: int) -> bool | None:
    counts = (await ledger.jobs()).get(worker)
    return True if counts is not None and counts.done >= count else None


async def _settled(ledger: Ledger, count: int) -> Counts | None:
    """count-entries' jobs once `count` are done or dead and none waits."""
    counts = (await ledger.jobs()).get("count-entries")
    if counts is None or counts.done + counts.dead < count or counts.waiting + counts.retrying:
        return None
    return counts


async def _ready(http: httpx.AsyncClient, status: HTTPStatus) -> httpx.Response | None:
    response = await http.get("/readyz")
    return response if response.status_code == status else None


def _queue(ledger: Ledger) -> DatabaseQueue:
    return DatabaseQueue(ledger.database, ledger.service.tables)


async def _terminate_connections(url: str) -> None:
    """Cut every other connection to the database, as a restart of its server does."""
    admin = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()


@asynccontextmanager
async def _holding_the_job_table(database: Database) -> AsyncIterator[None]:
    """Hold the job table for a while, as a stuck transaction would: the workers cannot
    claim (nor, on SQLite, read the logs) until the block ends."""
    async with database.write.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text("LOCK TABLE fluvius_job IN ACCESS EXCLUSIVE MODE"))
        yield


# arq worker processes on Redis --------------------------------------------------------------


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """An empty Redis database of its own for the test."""
    require_redis()
    base = REDIS_URL.rsplit("/", 1)[0]
    url = f"{base}/{random.randint(1, 15)}"
    client = Redis.from_url(url)
    await client.flushdb()
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()


class Processes:
    """`fluvius run worker` processes of the ledger project."""

    def __init__(self, root: Path, environment: dict[str, str]) -> None:
        self.root = root
        self.environment = environment
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "fluvius_cli", "run", "worker", "--project", str(self.root)],
            env={**self.environment, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def processes(
    ledger_root: Path, database_url: str, redis_url: str, ledger: Ledger
) -> Iterator[Processes]:
    if not database_url.startswith("postgresql"):
        pytest.skip("arq workers run beside PostgreSQL")
    environment = {
        **os.environ,
        "FLUVIUS_DATABASE_URL": database_url,
        "FLUVIUS_REDIS_URL": redis_url,
        "FLUVIUS_WORKER_POLL_SECONDS": "0.05",
        "FLUVIUS_WORKER_RETRY_SECONDS": "0.05",
        "FLUVIUS_WORKER_TIMEOUT_SECONDS": "2",
        "LEDGER_TALLY": str(ledger.tally),
    }
    running = Processes(ledger_root, environment)
    try:
        yield running
    finally:
        running.stop()


async def test_arq_workers_deliver_every_event_once(ledger: Ledger, processes: Processes) -> None:
    processes.start()
    processes.start()
    amounts = await ledger.post(ENTRIES)
    assert await ledger.wait_for(ENTRIES) == (ENTRIES, sum(amounts))
    jobs = await ledger.jobs()
    assert jobs["count-entries"].done == ENTRIES


async def test_a_killed_worker_s_job_is_redelivered_and_its_command_applies_once(
    ledger: Ledger, processes: Processes, tmp_path: Path
) -> None:
    stall = tmp_path / "stalled"
    first = processes.start(LEDGER_STALL=str(stall))
    [amount] = await ledger.post(1)
    for _ in range(int(WAIT_S / 0.1)):
        if stall.exists():
            break
        await asyncio.sleep(0.1)
    assert stall.exists(), "the first attempt never started"
    assert await ledger.counted() == (1, amount), "the first attempt sent its command"
    first.kill()
    first.wait()
    processes.start()
    for _ in range(int(WAIT_S / 0.1)):
        if (await ledger.jobs())["count-entries"].done == 1:
            break
        await asyncio.sleep(0.1)
    jobs = await ledger.jobs()
    assert jobs["count-entries"].done == 1, "the job was redelivered and finished"
    assert await ledger.counted() == (1, amount), "its command applied once"


async def test_a_cron_worker_runs_once_per_tick_across_processes(
    ledger: Ledger, processes: Processes, tmp_path: Path
) -> None:
    ticks = tmp_path / "ticks"
    processes.environment["LEDGER_TICKS"] = str(ticks)
    processes.start()
    processes.start()
    for _ in range(int(75 / 0.5)):  # the next minute comes within 60 s
        if ticks.exists():
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(5)  # a second run of the same tick would be here by now
    lines = ticks.read_text().splitlines() if ticks.exists() else []
    minutes = [line.split()[0] for line in lines]
    assert minutes, "no tick ran"
    assert len(minutes) == len(set(minutes)), f"a tick ran twice: {lines}"
