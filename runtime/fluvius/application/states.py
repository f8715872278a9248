"""The state rows a process last saved, kept so a command can decide without reading its row.

A cached row is only ever a guess: the command's write saves the row only at the version the
command decided on (`EventStore.write`), so a row that changed elsewhere (another instance, a
replay) makes the write refuse, and the command runs again on a row read afresh. A command that
ends without writing (a refusal, a decision of no events) is decided again on a fresh row too,
so nothing a caller sees rests on a cached row alone.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import TypeAlias

from fluvius.domain.messages import State

DEFAULT_SIZE = 10_000

StateKey: TypeAlias = tuple[str, str | None, uuid.UUID]  # aggregate, tenant, id


class StateCache:
    """The last `size` state rows saved, by aggregate, tenant and id; the least recently used
    go first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._rows: OrderedDict[StateKey, State] = OrderedDict()

    def get(self, key: StateKey) -> State | None:
        """The row last saved under `key`, if this cache still holds it."""
        state = self._rows.get(key)
        if state is not None:
            self._rows.move_to_end(key)
        return state

    def put(self, key: StateKey, state: State) -> None:
        """Keep `state` as the row saved under `key`."""
        self._rows[key] = state
        self._rows.move_to_end(key)
        if len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def drop(self, key: StateKey) -> None:
        """Forget the row under `key`."""
        self._rows.pop(key, None)
