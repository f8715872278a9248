"""Consistency tokens: every command that records events says where, and reads accept it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluvius.data.consistency import ConsistencyToken, InvalidConsistencyToken
from fluvius.data.reader import Checkpoint
from tests.e2e.projects import import_service, served

pytestmark = pytest.mark.slow

OPEN = "/banking:open-account/account/:new"
OPENING = {"owner": "ann", "initial_deposit": "10", "opened_on": "2024-03-01"}


async def test_a_command_reply_carries_the_token_of_its_events_and_reads_accept_it(
    examples: dict[str, Path], database_url: str
) -> None:
    service = import_service(examples["bank"], "bank")
    async with served(service, database_url) as api, api.client("teller") as teller:
        first = await teller.post(OPEN, json=OPENING, headers={"Idempotency-Key": "k1"})
        second = await teller.post(OPEN, json=OPENING)
        tokens = [ConsistencyToken.decode(r.headers["consistency-token"]) for r in (first, second)]
        assert [token.domain for token in tokens] == ["banking", "banking"]
        assert tokens[0].checkpoint < tokens[1].checkpoint, "a later write sits later in the log"

        replayed = await teller.post(OPEN, json=OPENING, headers={"Idempotency-Key": "k1"})
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.headers["consistency-token"] == first.headers["consistency-token"]

        account = first.json()["data"]["id"]
        sent = {"Consistency-Token": first.headers["consistency-token"]}
        for path in (
            "/banking.account/",
            f"/banking.account/{account}",
            f"/banking.account/{account}/events",
        ):
            assert (await teller.get(path, headers=sent)).status_code == 200, path
            refused = await teller.get(path, headers={"Consistency-Token": "not-ours"})
            assert refused.status_code == 400, path
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "invalid-consistency-token"


@pytest.mark.parametrize("lsn", [None, "0/16B3748", "FFFFFFFF/FFFFFFFF"])
def test_a_token_reads_back_as_written(lsn: str | None) -> None:
    token = ConsistencyToken("banking", Checkpoint(2**40, 17), lsn)
    assert ConsistencyToken.decode(token.encode()) == token


@pytest.mark.parametrize("text", ["", "====", "bm90IG91cnM", "MTpCQU5LOjE6Mjo", "\u00e9t\u00e9"])
def test_a_token_this_service_did_not_write_is_refused(text: str) -> None:
    with pytest.raises(InvalidConsistencyToken):
        ConsistencyToken.decode(text)
