"""The aggregate: decides which events a command causes, and projects events onto its state.

A generated base class declares one method per command (`@handles`) and per event (`@applies`);
the user's subclass overrides any of them by name. Upcasters (`@upcasts`) turn stored event data
of an older schema version into the current one.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from fluvius.domain.context import Context
from fluvius.domain.errors import GuardFailed
from fluvius.domain.files import FileRule
from fluvius.domain.messages import Command, Event, State
from fluvius.domain.reading import NoReader, StateReader
from fluvius.domain.rules import Requirement

if TYPE_CHECKING:
    import uuid

S = TypeVar("S", bound=State)
T = TypeVar("T", bound=State)
Decision = list[Event] | Awaitable[Iterable[Event]]
"""What `decide` returns: the events, or, from an `async def` handler, an awaitable of them."""
F = TypeVar("F", bound=Callable[..., Any])

_HANDLES = "__fluvius_handles__"
_APPLIES = "__fluvius_applies__"
_UPCASTS = "__fluvius_upcasts__"


@dataclass(frozen=True)
class Ref:
    """The aggregate a command field refers to, by name (`domain.aggregate`)."""

    to: str


@dataclass(frozen=True)
class CommandHandler:
    """How an aggregate takes one command; `refs` maps payload fields to what they refer to."""

    payload: type[Command]
    method: str
    create: bool = False
    requires: tuple[Requirement, ...] = ()
    refs: Mapping[str, Ref] = field(default_factory=dict)
    files: Mapping[str, FileRule] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.payload.command_name


@dataclass(frozen=True)
class Projector:
    """How an aggregate projects one event onto its state."""

    event: type[Event]
    method: str


def handles(
    payload: type[Command],
    *,
    create: bool = False,
    requires: Sequence[Requirement] = (),
    refs: Mapping[str, Ref] | None = None,
    files: Mapping[str, FileRule] | None = None,
) -> Callable[[F], F]:
    """Mark a method as the decision on `payload`; `requires` are the guards the state must meet,
    `refs` maps the payload's fields that name other aggregates to those aggregates, `files`
    maps its file fields to what they accept."""

    def mark(function: F) -> F:
        guards = tuple(requires)
        handler = CommandHandler(
            payload, function.__name__, create, guards, dict(refs or {}), dict(files or {})
        )
        setattr(function, _HANDLES, handler)
        return function

    return mark


def applies(event: type[Event]) -> Callable[[F], F]:
    """Mark a method as the projection of `event` onto the state."""

    def mark(function: F) -> F:
        setattr(function, _APPLIES, Projector(event, function.__name__))
        return function

    return mark


def upcasts(event: str, *, from_version: int) -> Callable[[F], F]:
    """Mark a static method turning data of `event` at `from_version` into `from_version + 1`."""

    def mark(function: F) -> F:
        target = getattr(function, "__func__", function)
        setattr(target, _UPCASTS, (event, from_version))
        return function

    return mark


class InvalidDecision(TypeError):
    """A handler returned something other than a list of its aggregate's events."""


class MissingUpcaster(LookupError):
    """Stored event data is older than its event class and no upcaster bridges the gap."""


class Aggregate(Generic[S]):
    """Base of aggregates. Generated bases set the class attributes; users subclass those.

    Where an aggregate is stored is no part of it: its service maps it to its tables.
    """

    domain: ClassVar[str]
    name: ClassVar[str]
    state_type: ClassVar[type[State]]
    commands: ClassVar[Mapping[str, CommandHandler]] = {}
    events: ClassVar[Mapping[str, Projector]] = {}
    upcasters: ClassVar[Mapping[tuple[str, int], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        commands: dict[str, CommandHandler] = {}
        events: dict[str, Projector] = {}
        upcasters: dict[tuple[str, int], str] = {}
        for klass in reversed(cls.__mro__):
            for attribute, member in vars(klass).items():
                function = getattr(member, "__func__", member)
                if (handler := getattr(function, _HANDLES, None)) is not None:
                    commands[handler.name] = handler
                if (projector := getattr(function, _APPLIES, None)) is not None:
                    events[projector.event.event_name] = projector
                if (upcast := getattr(function, _UPCASTS, None)) is not None:
                    upcasters[upcast] = attribute
        cls.commands, cls.events, cls.upcasters = commands, events, upcasters

    def __init__(
        self,
        state: S,
        context: Context | None = None,
        reader: StateReader | None = None,
        services: Any = None,
    ) -> None:
        self.state = state
        self._context = context
        self._reader = reader or NoReader()
        self._services = services

    @property
    def context(self) -> Context:
        """The caller, the command's ids and its instant `now` (the clock's, outside a command)."""
        if self._context is None:
            self._context = Context.current()
        return self._context

    async def read(self, aggregate: type[Aggregate[T]], aggregate_id: uuid.UUID) -> T | None:
        """The current state of another aggregate (`aggregate` is its class, user's or generated
        base), or None when it does not exist in the caller's tenant. Read-only, in the
        command's transaction; the row may change once read (see docs/architecture.md)."""
        return await self._reader.read(aggregate, aggregate_id)

    @property
    def services(self) -> Any:
        """The service's dependencies, as its builder made them at start-up (a generated base
        class narrows the type to the project's `Services`)."""
        if self._services is None:
            raise RuntimeError(
                f"{self.qualified_name()} has no services: they exist while a service that "
                "builds them runs the command (or a test provides them)"
            )
        return self._services

    @property
    def id(self) -> uuid.UUID:
        return self.state.id

    @property
    def version(self) -> int:
        return self.state.version

    @classmethod
    def qualified_name(cls) -> str:
        """`domain.aggregate`."""
        return f"{cls.domain}.{cls.name}"

    @classmethod
    def initial_state(cls, aggregate_id: uuid.UUID) -> S:
        """The state before the first event: declared defaults, version 0."""
        return cast("S", cls.state_type(id=aggregate_id))

    @classmethod
    def handler_for(cls, command: type[Command] | str) -> CommandHandler:
        """The handler of a command, by payload class or by name."""
        name = command if isinstance(command, str) else command.command_name
        try:
            return cls.commands[name]
        except KeyError:
            raise LookupError(f"{cls.qualified_name()} has no command '{name}'") from None

    def decide(self, command: Command) -> Decision:
        """Check the command's guards against the state, then run its handler: a `def` handler's
        events come back as a list, an `async def` handler's as an awaitable of one. Anything
        but a list of the aggregate's events is an InvalidDecision."""
        handler = self.handler_for(type(command))
        state, payload = vars(self.state), vars(command)
        for guard in handler.requires:
            if not guard.evaluate(state, payload):
                actual = state.get(guard.field)
                raise GuardFailed(
                    f"{handler.name}: {guard.explain(state, payload)}",
                    field=guard.field,
                    comparison=guard.comparison.value,
                    expected=guard.accepted(state, payload),
                    actual=actual,
                )
        decided = getattr(self, handler.method)(command)
        if inspect.iscoroutine(decided):
            return self._checked_later(handler, decided)
        return self._checked(handler, decided)

    def _checked(self, handler: CommandHandler, decided: object) -> list[Event]:
        """The handler's events, once they are known to be a list of the aggregate's events."""
        if isinstance(decided, list | tuple) and all(map(self._applies_to, decided)):
            return list(decided)
        names = ", ".join(projector.event.__name__ for projector in self.events.values())
        raise InvalidDecision(
            f"{type(self).__name__}.{handler.method} returned {decided!r}: a handler returns a "
            f"list of events of {self.qualified_name()} ({names})"
        )

    def _applies_to(self, event: object) -> bool:
        """Whether `event` is an event of a name this aggregate applies."""
        return isinstance(event, Event) and event.event_name in self.events

    async def _checked_later(
        self, handler: CommandHandler, decided: Awaitable[object]
    ) -> list[Event]:
        return self._checked(handler, await decided)

    def apply(self, event: Event) -> None:
        """Project `event` onto the state and count it in the version."""
        projector = self.events[event.event_name]
        projected: S = getattr(self, projector.method)(event)
        self.state = projected.evolve(version=self.state.version + 1)

    @classmethod
    def fold(cls, aggregate_id: uuid.UUID, events: Iterable[Event]) -> S:
        """The state that `events`, applied in order from the initial state, produce."""
        aggregate = cls(cls.initial_state(aggregate_id))
        for event in events:
            aggregate.apply(event)
        return aggregate.state

    @classmethod
    def load_event(cls, name: str, schema_version: int, data: dict[str, Any]) -> Event:
        """Stored event data as its current event class, upcast from older schema versions."""
        event_type = cls.events[name].event
        while schema_version < event_type.schema_version:
            upcaster = cls.upcasters.get((name, schema_version))
            if upcaster is None:
                raise MissingUpcaster(
                    f"{cls.qualified_name()}: no upcaster for '{name}' "
                    f"from version {schema_version}"
                )
            data = getattr(cls, upcaster)(data)
            schema_version += 1
        # `model_validate` without its wrapper, which costs half as much again per call
        return cast("Event", event_type.__pydantic_validator__.validate_python(data))
