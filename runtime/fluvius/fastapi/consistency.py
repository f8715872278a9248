"""The `Consistency-Token` request header: the write a read must include; and the
`Read-Source` reply header: whether a replica or the primary answered.

The token is left out of the OpenAPI document: a client sends back only what a reply gave it,
and no value a schema could describe is one to make up (docs/http-api.md describes it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Header

from fluvius.data.consistency import HEADER, ConsistencyToken, InvalidConsistencyToken
from fluvius.data.replicas import Read
from fluvius.fastapi.problems import ProblemError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fluvius.fastapi.runtime import Runtime

T = TypeVar("T")
READ_SOURCE = "Read-Source"


async def consistency_token(
    token: Annotated[
        str | None, Header(alias=HEADER, max_length=256, include_in_schema=False)
    ] = None,
) -> ConsistencyToken | None:
    """The token a read was sent with, if any; a token this service did not write is a 400."""
    if token is None:
        return None
    try:
        return ConsistencyToken.decode(token)
    except InvalidConsistencyToken as error:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST, "invalid-consistency-token", str(error)
        ) from None


async def consistent_read(
    runtime: Runtime,
    query: Callable[[AsyncConnection], Awaitable[T]],
    token: ConsistencyToken | None,
) -> Read[T]:
    """`query` run on a replica, one that includes `token`'s write when there is a token, or
    else on the primary, waiting at most `FLUVIUS_CONSISTENCY_WAIT` for a replica to catch up."""
    replicas = runtime.database.replicas
    return await replicas.read(query, token, wait_s=runtime.settings.consistency_wait_s)


def source_header(read: Read[Any]) -> dict[str, str]:
    """The `Read-Source` header of a reply to `read`: `replica` or `primary`."""
    return {READ_SOURCE: read.source}
