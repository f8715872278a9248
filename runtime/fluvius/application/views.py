"""What a view is: a table of rows keyed by one field, and the rules by which events change them.

A generated service declares each view of its spec as a `View`; its projector (in
`fluvius.worker.projector`) folds the events of the logs it reads into its rows. `fold` is the
one place where a view's rules meet its rows: the projector, `fluvius verify` and the tests all
fold through it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import inspect
import json
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from fluvius.data.reader import Checkpoint
from fluvius.domain.rules import ViewRule

if TYPE_CHECKING:
    from sqlalchemy import Table

VIEW_WORKER_PREFIX = "view:"  # a view's projector among the workers


class Progress:
    """How far, in this process, a view's projector has read each domain's log: a checkpoint it
    raises and an asyncio condition it signals, for readers waiting for a write to show, and
    events it sets, for readers that follow the view (its live feeds)."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, Checkpoint] = {}
        self._changed: asyncio.Condition | None = None
        self._wakes: list[asyncio.Event] = []

    @property
    def changed(self) -> asyncio.Condition:
        """The condition notified on each move (made in the running event loop, on first use)."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def moved(self, domain: str, checkpoint: Checkpoint) -> None:
        """The projector has read `domain`'s log up to `checkpoint`."""
        self.checkpoints[domain] = max(self.checkpoints.get(domain, Checkpoint()), checkpoint)
        for wake in self._wakes:
            wake.set()
        async with self.changed:
            self.changed.notify_all()

    def wake_on_move(self, wake: asyncio.Event) -> None:
        """Set `wake` at each move from now on."""
        self._wakes.append(wake)


@dataclass(frozen=True)
class View:
    """A read model: `table` holds a row per `key` value, `rules` say what each event does.

    `rules` are keyed by `domain.aggregate.event`; `types` give each field's Python type (values
    are cast to it), `defaults` the values of a new row. A handler of `handlers` (the user's
    Python, keyed as `rules`) replaces the rule of its event.
    """

    name: str
    domain: str
    table: Table = field(hash=False, compare=False)
    key: str
    types: Mapping[str, type] = field(hash=False)
    rules: Mapping[str, ViewRule] = field(hash=False)
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)
    tenancy: bool = False
    handlers: Mapping[str, Handler] = field(default_factory=dict, hash=False)
    progress: Progress = field(default_factory=Progress, hash=False, compare=False, repr=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.domain}.{self.name}"

    @property
    def class_name(self) -> str:
        """The view's name in PascalCase, for the classes that describe its rows."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def worker(self) -> str:
        """The projector's name among the workers (`fluvius workers`)."""
        return f"{VIEW_WORKER_PREFIX}{self.qualified_name}"

    def domains(self) -> list[str]:
        """The domains whose logs feed the view, in declaration order."""
        return list(dict.fromkeys(name.partition(".")[0] for name in self.rules))

    def checkpoint(self, domain: str) -> str:
        """The checkpoint name of the view's reading of `domain`'s log."""
        return f"{self.worker}:{domain}"

    @property
    def fingerprint(self) -> str:
        """A hash of the definition: a view whose definition changed is rebuilt."""
        definition = {
            "key": self.key,
            "types": {name: kind.__name__ for name, kind in sorted(self.types.items())},
            "defaults": {name: repr(value) for name, value in sorted(self.defaults.items())},
            "rules": {name: repr(rule) for name, rule in sorted(self.rules.items())},
            "handlers": {name: _source(h) for name, h in sorted(self.handlers.items())},
        }
        return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()

    def cast(self, name: str, value: Any) -> Any:
        """`value` as a value of the field `name`."""
        return cast_to(self.types.get(name), value)

    def key_of(self, value: object) -> Any:
        """`value` (text or a number, from a URL or a client) as a value of the key field;
        ValueError when it cannot be one."""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("a key is text or a number")
        try:
            return self.cast(self.key, value)
        except (TypeError, ArithmeticError) as error:
            raise ValueError(str(error)) from None

    def step(self, event: str, message: Mapping[str, Any], tenant: str | None) -> Step | None:
        """What `event` (`domain.aggregate.event`) does to the view, reading `message` (the
        event's fields as JSON values, its metadata as `@name`), on the row its key names in
        `tenant`; None when the view ignores the event or the key is null."""
        rule = self.rules.get(event)
        if rule is None:
            return None
        key = self.cast(self.key, rule.row_key(message))
        if key is None:
            return None
        return Step(event, rule, message, (tenant if self.tenancy else None, key))

    def fold(self, rows: Rows, step: Step) -> None:
        """Apply `step` to `rows` (a row per identity, None once deleted); `rows` must hold
        the stored row of the step's identity, if there is one."""
        tenant, key = step.identity
        current = rows.get(step.identity) or self.new_row(tenant, key)
        handler = self.handlers.get(step.event)
        if handler is None:
            changed = step.rule.evaluate(current, step.message, self.cast)
        elif (handled := handler(dict(current), step.message)) is not None:
            changed = {name: self.cast(name, value) for name, value in handled.items()}
        else:
            changed = None
        if changed is not None:
            changed[self.key] = key  # a row's key is the key it is stored under
        rows[step.identity] = changed

    def new_row(self, tenant: str | None, key: Any) -> dict[str, Any]:
        """A row no event has touched yet: the defaults, the key (and the tenant)."""
        row = {name: self.defaults.get(name) for name in self.types}
        row[self.key] = key
        if self.tenancy:
            row[TENANT_COLUMN] = tenant
        return row


TENANT_COLUMN = "tenant_id"
Identity = tuple[str | None, Any]
"""A row of a view: (tenant, key), the tenant None without tenancy."""
Rows = MutableMapping[Identity, dict[str, Any] | None]


Handler = Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any] | None]
"""The user's Python for one event of a view: (the row before, what the event reads) -> the row
after, or None to delete it."""
Handlers = Mapping[str, Handler]
"""A view's handlers, keyed by `domain.aggregate.event`."""


def _source(handler: Handler) -> str:
    try:
        return inspect.getsource(handler)
    except (OSError, TypeError):
        return repr(handler)


class Step(NamedTuple):
    """One event as a view sees it: its name, rule and what it reads, the row it changes, and
    the event as live messages carry it (`recorded`, when the projector read it)."""

    event: str
    rule: ViewRule
    message: Mapping[str, Any]
    identity: Identity
    recorded: Mapping[str, Any] | None = None


def cast_to(kind: type | None, value: Any) -> Any:
    """`value` as a `kind`: text and numbers from the spec become the field's type."""
    if value is None or kind is None or isinstance(value, kind):
        return value
    if kind is Decimal:
        return Decimal(str(value))
    if kind is uuid.UUID:
        return uuid.UUID(str(value))
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(str(value))
    if kind is dt.date:
        return dt.date.fromisoformat(str(value))
    return kind(value)
