"""The floor of the stack: the bank's `deposit`, hand-written with FastAPI and asyncpg.

One transaction of the same SQL that the generated bank service runs for a deposit: lock the
account's state row, append the event, update the state row, record the command. No token, no
policy, no validation beyond the body model. Serve it with uvicorn
(`bench.servers.uvicorn_run("bench.handwritten:app", ...)`); it reads the database URL from
BENCH_DATABASE_URL and the size of its connection pool from BENCH_POOL_SIZE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

from fluvius.ids import uuid7

SELECT_ACCOUNT = (
    "SELECT banking_account.id, banking_account.version, banking_account.created_at, "
    "banking_account.updated_at, banking_account.owner, banking_account.balance, "
    "banking_account.status, banking_account.opened_on \nFROM banking_account \n"
    "WHERE banking_account.id = $1::UUID FOR UPDATE"
)
INSERT_EVENT = (
    "INSERT INTO banking_event (event_id, aggregate, aggregate_id, version, name, "
    "schema_version, data, metadata, transaction_id, recorded_at) VALUES ($1::UUID, "
    "$2::VARCHAR, $3::UUID, $4::INTEGER, $5::VARCHAR, $6::INTEGER, $7::JSONB, $8::JSONB, "
    "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT), $9::TIMESTAMP WITH TIME ZONE) "
    "RETURNING banking_event.position, banking_event.transaction_id"
)
UPDATE_ACCOUNT = (
    "UPDATE banking_account SET id=$1::UUID, version=$2::INTEGER, "
    "created_at=$3::TIMESTAMP WITH TIME ZONE, updated_at=$4::TIMESTAMP WITH TIME ZONE, "
    "owner=$5::VARCHAR, balance=$6::NUMERIC, status=$7, opened_on=$8::DATE "
    "WHERE banking_account.id = $9::UUID AND banking_account.version = $10::INTEGER"
)
INSERT_COMMAND = (
    "INSERT INTO banking_command (tenant_id, command_id, aggregate, aggregate_id, name, "
    "request_hash, response, recorded_at) VALUES ($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, "
    "$4::UUID, $5::VARCHAR, $6::VARCHAR, $7::JSONB, $8::TIMESTAMP WITH TIME ZONE)"
)


class Deposit(BaseModel):
    """The body of a deposit."""

    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0, allow_inf_nan=False, max_digits=30)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Hold a connection pool for the life of the app."""
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    size = int(os.environ.get("BENCH_POOL_SIZE", "20"))
    async with asyncpg.create_pool(url, min_size=1, max_size=size) as pool:
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "OK"}


@app.post("/banking:deposit/account/{account_id}")
async def deposit(account_id: uuid.UUID, body: Deposit) -> Response:
    """Deposit `body.amount` on the account, in one transaction."""
    pool: asyncpg.Pool = app.state.pool
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(SELECT_ACCOUNT, account_id)
        if row is None:
            return Response(status_code=404)
        if row["status"] != "open":
            return Response(status_code=409)
        reply = await _record(connection, account_id, row, body.amount)
    content = json.dumps({"status": "OK", "data": reply}).encode()
    etag = f'"{reply["version"]}"'
    return Response(content, media_type="application/json", headers={"ETag": etag})


async def _record(
    connection: asyncpg.Connection, account_id: uuid.UUID, row: asyncpg.Record, amount: Decimal
) -> dict[str, Any]:
    """Append the event, update the state row and record the command; the reply's data."""
    now = dt.datetime.now(dt.UTC)
    version = row["version"] + 1
    command_id = str(uuid7())
    event_id = uuid7()
    data = {"amount": str(amount)}
    metadata = {"user": "bench", "command_id": command_id, "correlation_id": command_id}
    await connection.fetchrow(
        INSERT_EVENT, event_id, "account", account_id, version, "money-deposited", 1,
        json.dumps(data), json.dumps(metadata), now,
    )  # fmt: skip
    updated = await connection.execute(
        UPDATE_ACCOUNT, account_id, version, row["created_at"], now, row["owner"],
        row["balance"] + amount, row["status"], row["opened_on"], account_id, row["version"],
    )  # fmt: skip
    if updated != "UPDATE 1":
        raise RuntimeError(f"account {account_id} changed under its row lock")
    event = {
        "id": str(event_id),
        "name": "money-deposited",
        "version": version,
        "data": data,
        "recorded_at": now.isoformat().replace("+00:00", "Z"),
    }
    reply = {"id": str(account_id), "version": version, "events": [event]}
    await connection.execute(
        INSERT_COMMAND, "", command_id, "banking.account", account_id, "deposit",
        _request_hash(account_id, data), json.dumps(reply), now,
    )  # fmt: skip
    return reply


def _request_hash(account_id: uuid.UUID, payload: dict[str, str]) -> str:
    request = {
        "aggregate": "banking.account",
        "id": str(account_id),
        "command": "deposit",
        "payload": payload,
    }
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
