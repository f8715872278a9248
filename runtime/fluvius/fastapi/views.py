"""Query routes of a view: its rows, listed as an aggregate's are, and one row by its key.

    GET /{domain}.{view}/        ?query=&sort=&limit=&page=|cursor=
    GET /{domain}.{view}/{key}
    GET /{domain}.{view}/{key}/events ?after=&limit=   (?follow=true: server-sent events)

A read sent with a `Consistency-Token` of a domain that feeds the view answers once the view's
projector has read that domain's log past the token's checkpoint: it waits on the condition the
projector of this process signals, and polls the checkpoint table for projectors in other
processes, for at most `FLUVIUS_CONSISTENCY_WAIT` seconds; past that it answers 503 with
Retry-After. A token of a domain that does not feed the view is answered at once.
This module does not postpone annotations: FastAPI reads the endpoints' types at definition.
"""

import asyncio
import contextlib
import time
from dataclasses import replace
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, create_model

from fluvius.application.views import View
from fluvius.casbin.permission import READ
from fluvius.data.changes import ChangeLog
from fluvius.data.consistency import ConsistencyToken
from fluvius.data.reader import Checkpoint, Checkpoints
from fluvius.domain.errors import NotFound
from fluvius.fastapi.access import Access
from fluvius.fastapi.consistency import consistency_token, consistent_read, source_header
from fluvius.fastapi.live import event_stream
from fluvius.fastapi.live.view_feed import typed_row
from fluvius.fastapi.problems import ProblemError, problem_responses
from fluvius.fastapi.queries import (
    FOLLOW_HELP,
    FOLLOW_RESPONSE,
    MAX_HISTORY,
    RESPONSES,
    Listing,
    add_list_route,
    found,
    only_parameters,
    visible,
)
from fluvius.fastapi.replies import item_reply
from fluvius.fastapi.runtime import Runtime

POLL_S = 0.05  # how often a waiting read looks at the checkpoint table
LAST_CHANGE_HELP = "With follow=true: the position of the last change received (resume)."
CHANGES_DESCRIPTION = (
    'The row\'s kept changes as JSON, each `{"position", "event", "state"}` (the event and '
    "the row after it; null once deleted); with `follow=true` a stream of server-sent events: "
    "`id:` is the change's position in the view, `data:` the same object."
)
RETRY_AFTER_S = 1
_VIEW_RESPONSES = {**RESPONSES, **problem_responses(HTTPStatus.SERVICE_UNAVAILABLE)}


def row_model(view: View) -> type[BaseModel]:
    """The pydantic model of the view's rows (every field may be null)."""
    fields: dict[str, Any] = {name: (kind | None, None) for name, kind in view.types.items()}
    return create_model(f"{view.class_name}Row", **fields)


def add_view_routes(app: FastAPI, runtime: Runtime, view: View) -> None:
    """The list and item routes of `view`."""
    admitted = runtime.gate.require(view.qualified_name, READ)
    model = row_model(view)
    base = f"/{view.domain}.{view.name}"
    operation = f"{view.domain}_{view.name}"
    consistent = Depends(_waiting(runtime, view))
    listing = Listing(view.domain, view.name, view.table, model, f"{view.class_name}Filter")
    add_list_route(app, runtime, listing, admitted, consistent)
    key_column = view.table.c[view.key]
    change_log = ChangeLog(runtime.service.tables, view.qualified_name)

    def key_value(key: str) -> Any:
        """The key of a URL as a value of the key field; a 404 when it cannot be one."""
        try:
            return view.key_of(key)
        except ValueError:
            raise NotFound(f"{view.qualified_name} has no row {key}") from None

    @app.get(
        f"{base}/{{key}}",
        response_model=item_reply(model),
        operation_id=f"{operation}_get",
        summary=f"One {view.name} row, by its {view.key}",
        dependencies=[only_parameters()],
        tags=[view.domain],
        responses=_VIEW_RESPONSES,
    )
    async def get_view_row(
        key: str = Path(max_length=256, description=f"The row's {view.key}."),
        access: Access = Depends(admitted),
        token: ConsistencyToken | None = consistent,
    ) -> JSONResponse:
        value = key_value(key)
        read = await consistent_read(
            runtime,
            lambda connection: visible(
                connection, runtime, access, view.table, key_column == value
            ),
            token,
        )
        row = found(read, f"{view.qualified_name} has no row {key}")
        data = model.model_validate(row).model_dump(mode="json")
        return JSONResponse({"status": "OK", "data": data}, headers=source_header(read))

    @app.get(
        f"{base}/{{key}}/events",
        operation_id=f"{operation}_events",
        summary=f"The changes of one {view.name} row, oldest first",
        description=CHANGES_DESCRIPTION,
        dependencies=[only_parameters("after", "limit", "follow")],
        tags=[view.domain],
        responses={**RESPONSES, 200: FOLLOW_RESPONSE},
    )
    async def view_row_changes(
        key: str = Path(max_length=256, description=f"The row's {view.key}."),
        access: Access = Depends(admitted),
        after: Annotated[
            int, Query(ge=0, le=2**63 - 1, description="Only changes after this position.")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 100,
        follow: Annotated[bool, Query(description=FOLLOW_HELP)] = False,
        last_event_id: Annotated[
            int | None,
            Header(alias="Last-Event-ID", ge=0, le=2**63 - 1, description=LAST_CHANGE_HELP),
        ] = None,
    ) -> Response:
        value = key_value(key)
        if follow:
            async with runtime.database.write.connect() as connection:
                row = await visible(connection, runtime, access, view.table, key_column == value)
            if row is None:
                raise NotFound(f"{view.qualified_name} has no row {key}")
            return await event_stream(
                runtime.live, view.qualified_name, access, str(value), last_event_id or 0
            )
        async with runtime.database.write.connect() as connection:
            changes = await change_log.read(connection, after, limit, key=str(value))
        data = [
            {"position": change.position, "event": change.event, "state": change.state}
            for change in changes
            if runtime.gate.sees(access, typed_row(view, change), change.tenant)
        ]
        return JSONResponse({"status": "OK", "data": data})


def _waiting(runtime: Runtime, view: View) -> Any:
    """The dependency that holds a read back until the view includes the token's write."""
    checkpoints = Checkpoints(runtime.service.tables.checkpoints)
    fed_by = set(view.domains())

    async def wait(
        token: ConsistencyToken | None = Depends(consistency_token),
    ) -> ConsistencyToken | None:
        if token is None or token.domain not in fed_by:
            return None  # nothing to wait for: any replica will do
        await until_included(token)
        # the projector's write is on the primary; a replica may not have replayed it yet
        return replace(token, lsn=None)

    async def until_included(token: ConsistencyToken) -> None:
        wanted = token.checkpoint
        name = view.checkpoint(token.domain)
        deadline = time.monotonic() + runtime.settings.consistency_wait_s
        progress = view.progress
        while True:
            if progress.checkpoints.get(token.domain, Checkpoint()) >= wanted:
                return
            async with runtime.database.read.connect() as connection:
                if await checkpoints.load(connection, name) >= wanted:
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProblemError(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    "view-behind",
                    f"view {view.qualified_name} does not include that write yet; try again",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            async with progress.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(progress.changed.wait(), min(remaining, POLL_S))

    return wait
