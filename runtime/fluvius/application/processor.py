"""The command processor: one command, one atomic write.

Load the aggregate's state, check guards and scope, decide the events, then append them at the
next versions, project them onto the state row and record the command, all in one commit. A
failure anywhere leaves nothing behind.

On PostgreSQL a command first runs without a transaction around it: its reads commit as they
go, and its writes are one statement that saves the state row only at the version the command
decided on, and writes nothing otherwise (`EventStore.write`). It decides on the row this
process last saved, when it has it (`fluvius.application.states`): one round trip in all, where
a transaction holding the row's lock takes four. A command whose row moved on runs again on
the row read afresh, then in such a transaction, queueing on the row's lock behind other
writers; commands that use uploads, whose use is a write of its own, start there, and so do
commands on an aggregate whose commands conflicted lately (many writers racing for one row).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import json
import random
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from fluvius.application.files import resolve_files
from fluvius.application.reading import TransactionReader
from fluvius.application.states import StateCache, StateKey
from fluvius.data.consistency import ConsistencyToken
from fluvius.data.mapping import Storage, storage_of
from fluvius.data.reader import Checkpoint
from fluvius.data.store import (
    CommandEntry,
    EventStore,
    StaleState,
    StateChange,
    StoredCommand,
    new_events,
    violated_table,
)
from fluvius.domain.context import Context
from fluvius.domain.errors import (
    AlreadyExists,
    ConcurrencyError,
    IdempotencyConflict,
    NotFound,
    ScopeDenied,
    UnknownReference,
    VersionConflict,
)
from fluvius.domain.messages import Command, EventMetadata, RecordedEvent, State
from fluvius.ids import uuid7

if TYPE_CHECKING:
    from fluvius.data.driver import Database, WriteTransaction
    from fluvius.domain.aggregate import Aggregate, CommandHandler

DEFAULT_ATTEMPTS = 8


@dataclass(frozen=True)
class CommandContext:
    """Who sends a command, in which tenant, under which idempotency key and correlation."""

    user: str | None = None
    tenant: str | None = None
    command_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    roles: tuple[str, ...] = ()
    now: dt.datetime | None = None  # the command's instant; None: the clock's, when it runs


@dataclass(frozen=True)
class Scope:
    """Limits a caller to aggregates where one of `fields` holds `value` (the caller's id)."""

    fields: tuple[str, ...]
    value: str

    def admits(self, state: State) -> bool:
        held = (getattr(state, name) for name in self.fields)
        return any(value is not None and str(value) == self.value for value in held)


@dataclass(frozen=True)
class CommandResult:
    """The reply to a command: the aggregate's id and new version, and the events it recorded."""

    response: dict[str, Any]
    replayed: bool = False
    token: ConsistencyToken | None = None  # where its events sit, when it recorded any

    def committed_at(self, lsn: str | None) -> CommandResult:
        """The result with its token naming `lsn`, the primary's WAL position after the
        commit (when replicas need it)."""
        if self.token is None or lsn is None:
            return self
        return replace(self, token=replace(self.token, lsn=lsn))

    @property
    def aggregate_id(self) -> uuid.UUID:
        return uuid.UUID(self.response["id"])

    @property
    def version(self) -> int:
        return int(self.response["version"])

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.response["events"])


@dataclass(frozen=True)
class _Request:
    aggregate_type: type[Aggregate[Any]]
    storage: Storage
    handler: CommandHandler
    command: Command
    aggregate_id: uuid.UUID
    context: CommandContext
    command_id: str
    log_key: str
    request_hash: str
    expected_version: int | None
    scope: Scope | None

    @property
    def tenant_key(self) -> str:
        return self.context.tenant or ""

    @property
    def state_key(self) -> StateKey:
        return (self.aggregate_type.qualified_name(), self.context.tenant, self.aggregate_id)


class _Attempt(enum.Enum):
    """How an attempt gets the aggregate's row; each conflict moves a command one step on."""

    CACHED = "the row this process last saved, if it has it, without a transaction"
    READ = "the row as read, without a transaction"
    LOCKED = "the row locked, in a transaction"

    def after_conflict(self) -> _Attempt:
        return _Attempt.READ if self is _Attempt.CACHED else _Attempt.LOCKED


class _Unconfirmed(Exception):
    """An attempt that decided on a cached row ended without a write to confirm the row."""


class CommandProcessor:
    """Runs commands against aggregates stored in `database`."""

    def __init__(
        self,
        database: Database,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        services: Any = None,
        states: StateCache | None = None,
    ) -> None:
        self.database = database
        self.attempts = attempts
        self.services = services  # what handlers reach as `self.services`
        self.states = states or StateCache()

    async def execute(
        self,
        aggregate_type: type[Aggregate[Any]],
        command: Command,
        aggregate_id: uuid.UUID | None = None,
        *,
        context: CommandContext | None = None,
        expected_version: int | None = None,
        scope: Scope | None = None,
    ) -> CommandResult:
        """Run `command`; without `aggregate_id`, a creating command gets a new id.

        A command whose aggregate changed under its first attempts runs again holding the
        aggregate's lock, as do the commands on an aggregate that saw such conflicts lately, so
        concurrent writers to one aggregate queue on it; a conflict that still happens is
        retried a bounded number of times, unless the caller named `expected_version`, which
        makes any difference a VersionConflict.
        """
        context = context or CommandContext()
        handler = aggregate_type.handler_for(type(command))
        if aggregate_id is None and not handler.create:
            raise ValueError(f"command '{handler.name}' needs the id of an existing aggregate")
        command_id = context.command_id or str(uuid7())
        request = _Request(
            aggregate_type=aggregate_type,
            storage=storage_of(aggregate_type),
            handler=handler,
            command=command,
            aggregate_id=aggregate_id or uuid7(),
            context=context,
            command_id=command_id,
            log_key=_log_key(context.user, command_id) if context.command_id else command_id,
            request_hash=_request_hash(aggregate_type, command, aggregate_id),
            expected_version=expected_version,
            scope=scope,
        )
        locked = handler.files or self.states.contended(request.state_key)
        how = _Attempt.LOCKED if locked else _Attempt.CACHED
        for attempt in range(self.attempts):
            try:
                return await self._attempt(request, how)
            except _Unconfirmed:
                self.states.drop(request.state_key)
                how = _Attempt.READ
                continue
            except IntegrityError as error:
                conflict = violated_table(error)
                storage = request.storage
                if conflict == storage.log.commands.name and context.command_id:
                    continue  # a twin request recorded this key first; its reply is stored now
                if conflict not in (storage.log.events.name, storage.table.name):
                    raise
                self._conflict(request)
            except StaleState:
                self._conflict(request)
            self.states.conflicted(request.state_key)
            if how is not _Attempt.LOCKED:
                how = how.after_conflict()  # again at once
                continue
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise ConcurrencyError(
            f"{aggregate_type.qualified_name()} {request.aggregate_id} kept changing "
            f"during {self.attempts} attempts",
        )

    @staticmethod
    def _conflict(request: _Request) -> None:
        if request.expected_version is not None:
            raise VersionConflict(
                f"{request.aggregate_type.qualified_name()} {request.aggregate_id} changed "
                f"since version {request.expected_version}",
                expected=request.expected_version,
            )

    async def _attempt(self, request: _Request, how: _Attempt) -> CommandResult:
        async with self.database.transaction(atomic=how is _Attempt.LOCKED) as transaction:
            store = EventStore(
                transaction.connection, request.storage.log, driver=transaction.driver
            )
            stored = None
            if request.context.command_id is not None:
                stored = await store.find_command(request.tenant_key, request.log_key)
            if stored is not None:
                result = await _replay(store, stored, request)
            elif (cached := self._cached(request, how, transaction.atomic)) is not None:
                result = await self._process_cached(transaction, store, request, cached)
            else:
                state = await _starting_row(store, request, lock=transaction.atomic)
                result = await self._process(transaction, store, request, state)
        return result.committed_at(transaction.lsn)

    def _cached(self, request: _Request, how: _Attempt, atomic: bool) -> State | None:
        """The row this attempt may decide on without reading it, if any."""
        if how is not _Attempt.CACHED or atomic or request.handler.create:
            return None
        return self.states.get(request.state_key)

    async def _process_cached(
        self, transaction: WriteTransaction, store: EventStore, request: _Request, cached: State
    ) -> CommandResult:
        """`_process` on the row this process last saved; an outcome that no write confirms
        (a refusal, no events) raises _Unconfirmed; a refused write is a conflict, as for a row
        read."""
        try:
            result = await self._process(transaction, store, request, cached)
        except (StaleState, IntegrityError):
            raise
        except Exception as error:
            raise _Unconfirmed from error
        if not result.events:
            raise _Unconfirmed
        return result

    async def _process(
        self,
        transaction: WriteTransaction,
        store: EventStore,
        request: _Request,
        state: State | None,
    ) -> CommandResult:
        """Decide and write `request` on the aggregate's row, `state` (None: absent), in
        `transaction`, which hands what it wrote to the readers of this process once committed;
        on PostgreSQL's direct path, the one where attempts run on cached rows, the row it saves
        goes to the cache."""
        aggregate_type, handler = request.aggregate_type, request.handler
        tenant = request.context.tenant
        if state is None or not (handler.create or _in_scope(request, state)):
            raise _not_found(request, request.aggregate_id)
        if request.expected_version is not None and state.version != request.expected_version:
            raise VersionConflict(
                f"{aggregate_type.qualified_name()} {request.aggregate_id} is at version "
                f"{state.version}, not {request.expected_version}",
                expected=request.expected_version,
                actual=state.version,
            )
        await _check_refs(store, request)
        now = request.context.now or dt.datetime.now(dt.UTC)
        command = await resolve_files(
            store,
            request.storage.uploads,
            handler.files,
            request.command,
            user=request.context.user,
            tenant=tenant,
            now=now,
        )
        reader = TransactionReader(store, tenant)
        aggregate = aggregate_type(state, _decision_context(request, now), reader, self.services)
        decision = aggregate.decide(command)
        events = decision if isinstance(decision, list) else list(await decision)
        for event in events:
            aggregate.apply(event)
        if handler.create:
            _check_scope(request, aggregate.state)
        metadata = EventMetadata(
            user=request.context.user,
            tenant=tenant,
            command_id=request.command_id,
            correlation_id=request.context.correlation_id or request.command_id,
            causation_id=request.context.causation_id,
        )
        recorded = new_events(
            aggregate_type.name, request.aggregate_id, state.version, events, metadata, now
        )
        change = None
        if events:
            new_state = aggregate.state.evolve(created_at=state.created_at or now, updated_at=now)
            change = StateChange(
                request.storage.table, new_state, previous_version=state.version, tenant=tenant
            )
        response = {
            "id": str(request.aggregate_id),
            "version": aggregate.state.version,
            "events": [event.summary() for event in recorded],
        }
        entry = CommandEntry(
            tenant=request.tenant_key,
            command_id=request.log_key,
            aggregate=aggregate_type.qualified_name(),
            aggregate_id=request.aggregate_id,
            name=handler.name,
            request_hash=request.request_hash,
            response=response,
            recorded_at=now,
        )
        recorded = await store.write(recorded, state=change, command=entry)
        if change is not None:
            transaction.hand_over(request.storage.log.channel, recorded, change.state)
            if store.driver is not None:  # where attempts may use it
                self.states.put(request.state_key, change.state)
        return CommandResult(response, token=_token(request, recorded))


async def _starting_row(store: EventStore, request: _Request, *, lock: bool) -> State | None:
    """The row a command starts from: a new aggregate's initial state, or the aggregate's row as
    read (locked with `lock`), None when it has none."""
    aggregate_type = request.aggregate_type
    if not request.handler.create:
        return await store.load_state(
            aggregate_type, request.aggregate_id, tenant=request.context.tenant, lock=lock
        )
    if await store.exists(request.storage.table, request.aggregate_id):
        raise AlreadyExists(
            f"{aggregate_type.qualified_name()} {request.aggregate_id} already exists"
        )
    initial: State = aggregate_type.initial_state(request.aggregate_id)
    return initial


def _decision_context(request: _Request, now: dt.datetime) -> Context:
    context = request.context
    return Context(
        now=now,
        user=context.user,
        roles=context.roles,
        tenant=context.tenant,
        command_id=request.command_id,
        correlation_id=context.correlation_id or request.command_id,
    )


def _in_scope(request: _Request, state: State) -> bool:
    return request.scope is None or request.scope.admits(state)


def _check_scope(request: _Request, state: State) -> None:
    """Refuse the creation of an aggregate that would be beyond the caller's scope."""
    scope = request.scope
    if scope is not None and not _in_scope(request, state):
        raise ScopeDenied(
            f"{request.handler.name} is allowed only on {request.aggregate_type.qualified_name()} "
            f"aggregates whose {' or '.join(scope.fields)} is the caller",
            scope=list(scope.fields),
        )


async def _check_refs(store: EventStore, request: _Request) -> None:
    """Refuse a command whose ref fields name aggregates absent from the caller's tenant."""
    errors = []
    for name, ref in request.handler.refs.items():
        target = getattr(request.command, name)
        if target is not None and not await store.exists_in_tenant(
            request.storage.refs[ref.to], target, tenant=request.context.tenant
        ):
            message = f"{name} refers to {ref.to} {target}, which does not exist"
            errors.append({"field": name, "message": message, "code": UnknownReference.code})
    if errors:
        raise UnknownReference("; ".join(error["message"] for error in errors), errors)


def _not_found(request: _Request, aggregate_id: uuid.UUID) -> NotFound:
    # Beyond the caller's scope an aggregate is as absent as it is to the caller's reads.
    return NotFound(f"{request.aggregate_type.qualified_name()} {aggregate_id} does not exist")


async def _replay(store: EventStore, stored: StoredCommand, request: _Request) -> CommandResult:
    """The stored reply of the caller's earlier command under this key, if the caller still
    has the scope a fresh command would need."""
    if stored.request_hash != request.request_hash:
        raise IdempotencyConflict(
            f"command id '{request.command_id}' was used for another request "
            f"({stored.name} on {stored.aggregate} {stored.aggregate_id})",
        )
    if request.scope is not None:
        state = await store.load_state(
            request.aggregate_type, stored.aggregate_id, tenant=request.context.tenant
        )
        if state is None or not request.scope.admits(state):
            raise _not_found(request, stored.aggregate_id)
    recorded = [
        event
        for summary in stored.response["events"][-1:]
        if (event := await store.event([request.aggregate_type], uuid.UUID(summary["id"])))
    ]
    return CommandResult(stored.response, replayed=True, token=_token(request, recorded))


def _token(request: _Request, recorded: list[RecordedEvent[Any]]) -> ConsistencyToken | None:
    """The token of a command that recorded `recorded`: the checkpoint after its last event."""
    if not recorded:
        return None
    return ConsistencyToken(request.aggregate_type.domain, Checkpoint.of(recorded[-1]))


def _log_key(caller: str | None, command_id: str) -> str:
    """The command log's key of a command sent under `command_id`: each caller has keys of its
    own, so no caller can replay, or learn of, another caller's command by reusing its key."""
    scoped = json.dumps([caller, command_id], separators=(",", ":"))
    return hashlib.sha256(scoped.encode()).hexdigest()


def _request_hash(
    aggregate_type: type[Aggregate[Any]], command: Command, aggregate_id: uuid.UUID | None
) -> str:
    """What makes two requests the same command: target, name and payload."""
    request = {
        "aggregate": aggregate_type.qualified_name(),
        "id": str(aggregate_id) if aggregate_id is not None else None,
        "command": command.command_name,
        "payload": command.model_dump(mode="json"),
    }
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
