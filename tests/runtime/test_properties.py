"""Whatever commands arrive, in whatever order, the state equals the fold of the log."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluvius.application.processor import CommandProcessor
from fluvius.data import Database
from fluvius.domain import Command, DomainError
from tests.runtime.bank import Account, CloseAccount, Deposit, OpenAccount, Withdraw
from tests.runtime.helpers import folded_state, stored_state, versions

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2)
commands = st.lists(
    st.one_of(
        amounts.map(lambda amount: Deposit(amount=amount)),
        amounts.map(lambda amount: Withdraw(amount=amount)),
        st.just(CloseAccount()),
    ),
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(initial=amounts, sequence=commands)
async def test_state_is_the_fold_of_the_log_at_every_step(
    database: Database, processor: CommandProcessor, initial: Decimal, sequence: list[Command]
) -> None:
    account = (
        await processor.execute(Account, OpenAccount(owner="p", initial_deposit=initial))
    ).aggregate_id
    for command in sequence:
        before = await versions(database, account)
        try:
            result = await processor.execute(Account, command, account)
        except DomainError:
            assert await versions(database, account) == before
        else:
            assert await versions(database, account) == [*before, result.version]
        assert await stored_state(database, account) == await folded_state(database, account)
