"""`self.read` outside a command: the aggregate has no transaction to read in."""

from __future__ import annotations

import pytest

from fluvius.ids import uuid7
from tests.runtime.bank import Account


async def test_reading_outside_a_command_says_where_reading_works() -> None:
    account = Account(Account.initial_state(uuid7()))

    with pytest.raises(RuntimeError, match=r"self\.read works while the command processor"):
        await account.read(Account, uuid7())
