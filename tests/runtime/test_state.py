"""State.evolve: what `model_copy(update=...)` gives, by a shorter way for plain states."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ConfigDict, PrivateAttr, ValidationError

from fluvius.domain import State
from tests.runtime.bank import AccountState


class NotedState(AccountState):
    _note: str = PrivateAttr(default="kept")


class OpenState(AccountState):
    model_config = ConfigDict(frozen=True, extra="allow")


@pytest.mark.parametrize(
    ("state", "changes"),
    [
        (AccountState(id=uuid.uuid4()), {"version": 2, "balance": Decimal(5)}),
        (AccountState(id=uuid.uuid4(), owner="ann"), {}),
        (NotedState(id=uuid.uuid4()), {"status": "closed"}),
        (OpenState(id=uuid.uuid4(), colour="red"), {"colour": "blue", "version": 1}),
    ],
)
def test_evolve_is_model_copy_with_the_changes(state: State, changes: dict[str, Any]) -> None:
    before = state.model_copy()
    evolved, copied = state.evolve(**changes), state.model_copy(update=changes)
    assert type(evolved) is type(state)
    assert evolved == copied
    assert evolved.model_fields_set == copied.model_fields_set
    assert evolved.model_extra == copied.model_extra
    assert evolved.__pydantic_private__ == copied.__pydantic_private__
    assert state == before
    assert state.model_fields_set == before.model_fields_set
    with pytest.raises(ValidationError):
        evolved.version = 9
