"""The `Consistency-Token` request header: the write a read must include.

Left out of the OpenAPI document: a client sends back only what a reply gave it, and no value a
schema could describe is one to make up (docs/http-api.md describes the header).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import Header

from fluvius.data.consistency import HEADER, ConsistencyToken, InvalidConsistencyToken
from fluvius.fastapi.problems import ProblemError


def consistency_token(
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
