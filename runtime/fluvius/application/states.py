"""The state rows a process last saved, kept so a command can decide without reading its row.

A cached row is only ever a guess: the command's write saves the row only at the version the
command decided on (`EventStore.write`), so a row that changed elsewhere (another instance, a
replay) makes the write refuse, and the command runs again on a row read afresh. A command that
ends without writing (a refusal, a decision of no events) is decided again on a fresh row too,
so nothing a caller sees rests on a cached row alone.

Guessing costs a wasted attempt whenever commands on one aggregate race each other, so an
aggregate whose commands conflicted within CONTENDED_S starts them under its row's lock instead.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from typing import TypeAlias, TypeVar

from fluvius.domain.messages import State

DEFAULT_SIZE = 10_000
CONTENDED_S = 1.0

StateKey: TypeAlias = tuple[str, str | None, uuid.UUID]  # aggregate, tenant, id
V = TypeVar("V")


class StateCache:
    """The last `size` state rows saved, by aggregate, tenant and id (the least recently used
    go first), and the aggregates whose commands conflicted lately."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._rows: OrderedDict[StateKey, State] = OrderedDict()
        self._conflicts: OrderedDict[StateKey, float] = OrderedDict()  # key: when, monotonic

    def get(self, key: StateKey) -> State | None:
        """The row last saved under `key`, if this cache still holds it."""
        state = self._rows.get(key)
        if state is not None:
            self._rows.move_to_end(key)
        return state

    def put(self, key: StateKey, state: State) -> None:
        """Keep `state` as the row saved under `key`."""
        _keep(self._rows, key, state, self.size)

    def drop(self, key: StateKey) -> None:
        """Forget the row under `key`."""
        self._rows.pop(key, None)

    def conflicted(self, key: StateKey) -> None:
        """Forget the row under `key`, which a command found moved on under it."""
        self.drop(key)
        _keep(self._conflicts, key, time.monotonic(), self.size)

    def contended(self, key: StateKey) -> bool:
        """Whether commands on `key` conflicted within the last CONTENDED_S."""
        since = self._conflicts.get(key)
        if since is None:
            return False
        if time.monotonic() - since < CONTENDED_S:
            return True
        del self._conflicts[key]
        return False


def _keep(entries: OrderedDict[StateKey, V], key: StateKey, value: V, size: int) -> None:
    """Set `key` to `value` as the most recent of `entries`, keeping at most `size`."""
    entries[key] = value
    entries.move_to_end(key)
    if len(entries) > size:
        entries.popitem(last=False)
