"""Business rules of banking.account.

AccountBase, generated from fluvius.yaml, decides and projects exactly what the spec
declares: overdrafts are refused there (`requires: balance: {ge: $amount}`). The rule the spec
cannot say lives here: a large withdrawal needs a second teller, who is not the caller.
"""

from decimal import Decimal

from fluvius.domain import Event, Rejected

from bank.banking._generated.account import AccountBase, Withdraw

SECOND_TELLER_ABOVE = Decimal("10000")
"""Withdrawals of more than this need `approved_by`: a second teller."""


class Account(AccountBase):
    """banking.account, with the rules of the business on top of the spec's."""

    def withdraw(self, command: Withdraw) -> list[Event]:
        if command.amount > SECOND_TELLER_ABOVE:
            if command.approved_by is None:
                raise Rejected(
                    "second-teller-required",
                    f"a withdrawal over {SECOND_TELLER_ABOVE} needs approved_by: a second teller",
                    threshold=str(SECOND_TELLER_ABOVE),
                )
            if command.approved_by == self.context.user:
                raise Rejected(
                    "second-teller-required",
                    "the second teller cannot be the one who asks for the withdrawal",
                    threshold=str(SECOND_TELLER_ABOVE),
                )
        return super().withdraw(command)
