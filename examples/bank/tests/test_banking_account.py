"""The bank's rules on banking.account: overdrafts (declared in fluvius.yaml) and the second
teller that large withdrawals need (bank/banking/account.py)."""

import datetime as dt
from decimal import Decimal

import pytest
from fluvius.domain import GuardFailed, Rejected
from fluvius.testing import Scenario

from bank.banking._generated.account import (
    AccountOpened,
    MoneyWithdrawn,
    OpenAccount,
    Withdraw,
)
from bank.banking.account import SECOND_TELLER_ABOVE, Account

OPENED = AccountOpened(
    owner="ann", initial_deposit=Decimal("50000"), opened_on=dt.date(2024, 1, 15)
)
LARGE = SECOND_TELLER_ABOVE + 1


async def test_account_is_created(scenario: Scenario) -> None:
    outcome = await scenario.given(Account).when(
        OpenAccount(owner="ann", initial_deposit=Decimal("100"), opened_on=dt.date(2024, 1, 15))
    )

    assert outcome.events == [
        AccountOpened(owner="ann", initial_deposit=Decimal("100"), opened_on=dt.date(2024, 1, 15))
    ]
    assert outcome.state.balance == Decimal("100")


async def test_an_overdraft_is_refused(scenario: Scenario) -> None:
    with pytest.raises(GuardFailed, match="balance must be at least amount"):
        await scenario.given(Account, OPENED).when(Withdraw(amount=Decimal("50000.01")))


async def test_a_small_withdrawal_needs_no_second_teller(scenario: Scenario) -> None:
    outcome = await scenario.given(Account, OPENED).when(
        Withdraw(amount=SECOND_TELLER_ABOVE), user="teller-1", roles=("teller",)
    )

    assert outcome.events == [MoneyWithdrawn(amount=SECOND_TELLER_ABOVE)]
    assert outcome.state.balance == Decimal("50000") - SECOND_TELLER_ABOVE


async def test_a_large_withdrawal_without_a_second_teller_is_refused(scenario: Scenario) -> None:
    with pytest.raises(Rejected) as refused:
        await scenario.given(Account, OPENED).when(
            Withdraw(amount=LARGE), user="teller-1", roles=("teller",)
        )
    assert refused.value.code == "second-teller-required"


async def test_the_caller_cannot_approve_their_own_large_withdrawal(scenario: Scenario) -> None:
    with pytest.raises(Rejected, match="cannot be the one who asks") as refused:
        await scenario.given(Account, OPENED).when(
            Withdraw(amount=LARGE, approved_by="teller-1"), user="teller-1", roles=("teller",)
        )
    assert refused.value.code == "second-teller-required"


async def test_a_large_withdrawal_approved_by_a_second_teller_is_recorded(
    scenario: Scenario,
) -> None:
    outcome = await scenario.given(Account, OPENED).when(
        Withdraw(amount=LARGE, approved_by="teller-2"), user="teller-1", roles=("teller",)
    )

    assert outcome.events == [MoneyWithdrawn(amount=LARGE, approved_by="teller-2")]
    assert outcome.state.balance == Decimal("50000") - LARGE
