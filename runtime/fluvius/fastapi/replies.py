"""The shapes of successful replies, for OpenAPI: `{"status": "OK", "data": ...}`."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, create_model

from fluvius.domain.messages import State


class EventSummary(BaseModel):
    """An event as replies show it."""

    id: uuid.UUID
    name: str
    version: int
    data: dict[str, Any]
    recorded_at: dt.datetime


class CommandOutcome(BaseModel):
    """What a command did: the aggregate's id and new version, and the events it recorded."""

    id: uuid.UUID
    version: int
    events: list[EventSummary]


class Reply(BaseModel):
    """Every successful reply says so."""

    status: Literal["OK"] = "OK"


class CommandReply(Reply):
    data: CommandOutcome


class Pagination(BaseModel):
    """Where a page sits: `page`/`total`/`pages` when paging by number; `next_cursor` always."""

    limit: int
    page: int | None = None
    total: int | None = None
    pages: int | None = None
    next_cursor: str | None = None


class HistoryReply(Reply):
    data: list[EventSummary]


@cache
def item_reply(state: type[State]) -> type[BaseModel]:
    """`{"status": "OK", "data": <state>}` for one aggregate type."""
    return create_model(f"{state.__name__}Reply", __base__=Reply, data=(state, ...))


@cache
def list_reply(state: type[State]) -> type[BaseModel]:
    """`{"status": "OK", "data": [<state>...], "pagination": {...}}` for one aggregate type."""
    rows: Any = list.__class_getitem__(state)  # list[state], built at run time
    return create_model(
        f"{state.__name__}Page", __base__=Reply, data=(rows, ...), pagination=(Pagination, ...)
    )
