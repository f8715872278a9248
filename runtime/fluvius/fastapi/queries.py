"""Query routes of an aggregate: list, one row, and its event history.

    GET /{domain}.{aggregate}/            ?query=&sort=&limit=&page=|cursor=
    GET /{domain}.{aggregate}/{id}
    GET /{domain}.{aggregate}/{id}/events ?after=&limit=   (?follow=true: server-sent events)

Every read is confined in SQL to the caller's tenant and scope, so counts and pages are right.
Reads go to a read replica when there are any, to one that includes the write of the request's
`Consistency-Token` when it has one (fluvius.data.replicas); `Read-Source` says which answered.
OpenAPI declares `query=` as JSON (its schema, `<Aggregate>Filter`, lists each field's operators
and values) and `sort=` by a pattern naming the sortable fields (fluvius.query.schema).
This module does not postpone annotations: FastAPI reads the endpoints' types at definition.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from fluvius.casbin.permission import READ
from fluvius.data.consistency import ConsistencyToken
from fluvius.data.mapping import storage_of
from fluvius.data.replicas import Read
from fluvius.data.store import EventStore
from fluvius.domain.aggregate import Aggregate
from fluvius.domain.errors import NotFound
from fluvius.fastapi.access import Access
from fluvius.fastapi.consistency import consistency_token, consistent_read, source_header
from fluvius.fastapi.live import EVENT_STREAM, event_stream
from fluvius.fastapi.openapi import declare_component
from fluvius.fastapi.problems import ProblemError, problem_responses
from fluvius.fastapi.replies import HistoryReply, item_reply, list_reply
from fluvius.fastapi.runtime import Runtime
from fluvius.query import Listing as Page
from fluvius.query import fields_of, list_rows
from fluvius.query.filters import MAX_CONDITIONS, MAX_DEPTH
from fluvius.query.schema import filter_schema, sort_pattern

T = TypeVar("T")
MAX_LIMIT = 100
MAX_HISTORY = 1000
RESPONSES = problem_responses(
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.UNPROCESSABLE_ENTITY,
)
QUERY_LENGTH = 32768
QUERY_HELP = (
    'A JSON filter: {"balance.gt": 10}, {"owner": "ann"}, {"status!eq": "closed"}, '
    '{".or": [{...}, {...}]}. Operators: eq ne in has startswith (text), '
    "eq ne gt gte lt lte in between (numbers, dates), eq ne in (enums, uuids), eq ne (booleans). "
    f"At most {MAX_CONDITIONS} conditions, .and/.or nested at most {MAX_DEPTH} deep, "
    f"in at most {QUERY_LENGTH} characters."
)
PAGE_HELP = "The page, counting from 1 (the default). Not with `cursor`: 400 when both are given."
CURSOR_HELP = (
    "`next_cursor` of a previous page (empty: the first page, without counting). Not with "
    "`page`: 400 when both are given; 400 for a cursor this service did not issue for this "
    "query= and sort=."
)
FOLLOW_HELP = (
    "Stream the events as server-sent events (text/event-stream), from the first one or the "
    "position in Last-Event-ID, then as they commit; `after` and `limit` then do not apply."
)
LAST_EVENT_HELP = "With follow=true: the log position of the last event received (resume)."
FOLLOW_DESCRIPTION = (
    "The history as JSON; with `follow=true` a stream of server-sent events: `id:` is the log "
    'position, `data:` is `{"position", "event", "state"}` (the event and the row after it).'
)
FOLLOW_RESPONSE: dict[str, Any] = {
    "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
    "description": "The history (JSON), or with follow=true a stream of server-sent events.",
}


def only_parameters(*names: str) -> Any:
    """A dependency refusing (400) a query parameter the route does not declare."""
    declared = frozenset(names)

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - declared)
        if unknown:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ProblemError(
                HTTPStatus.BAD_REQUEST,
                "unknown-parameter",
                f"unknown query parameter '{unknown[0]}'. Allowed: {allowed}.",
            )

    return Depends(check)


# State rows are written in the command's own transaction: a read of the primary includes every
# acknowledged write, and a replica's does once it has replayed the token's LSN.
CONSISTENT = Depends(consistency_token)


async def visible_row(
    runtime: Runtime, aggregate: type[Aggregate[Any]], access: Access, aggregate_id: uuid.UUID
) -> dict[str, Any]:
    """The state row `aggregate_id` read on the primary if the caller may read it, else NotFound."""
    table = storage_of(aggregate).table
    async with runtime.database.read.connect() as connection:
        row = await visible(connection, runtime, access, table, table.c.id == aggregate_id)
    if row is None:
        raise NotFound(f"{aggregate.qualified_name()} {aggregate_id} does not exist")
    return row


def add_query_routes(app: FastAPI, runtime: Runtime, aggregate: type[Aggregate[Any]]) -> None:
    """The list, item and history routes of `aggregate`."""
    admitted = runtime.gate.require(aggregate.qualified_name(), READ)
    table = storage_of(aggregate).table
    state_type = aggregate.state_type
    base = f"/{aggregate.domain}.{aggregate.name}"
    operation = f"{aggregate.domain}_{aggregate.name}"
    common: dict[str, Any] = {"tags": [aggregate.domain], "responses": RESPONSES}
    filter_name = f"{state_type.__name__.removesuffix('State')}Filter"
    listing = Listing(aggregate.domain, aggregate.name, table, state_type, filter_name)
    add_list_route(app, runtime, listing, admitted, CONSISTENT)

    async def visible_row(
        connection: AsyncConnection, access: Access, aggregate_id: uuid.UUID
    ) -> dict[str, Any] | None:
        return await visible(connection, runtime, access, table, table.c.id == aggregate_id)

    def missing(aggregate_id: uuid.UUID) -> str:
        return f"{aggregate.qualified_name()} {aggregate_id} does not exist"

    @app.get(
        f"{base}/{{id}}",
        response_model=item_reply(state_type),
        operation_id=f"{operation}_get",
        summary=f"One {aggregate.name}",
        dependencies=[only_parameters()],
        **common,
    )
    async def get_aggregate(
        id: uuid.UUID,
        access: Access = Depends(admitted),
        token: ConsistencyToken | None = CONSISTENT,
    ) -> JSONResponse:
        read = await consistent_read(
            runtime, lambda connection: visible_row(connection, access, id), token
        )
        state = state_type.model_validate(found(read, missing(id)))
        return JSONResponse(
            {"status": "OK", "data": state.model_dump(mode="json")},
            headers={"ETag": f'"{state.version}"', **source_header(read)},
        )

    @app.get(
        f"{base}/{{id}}/events",
        response_model=HistoryReply,
        operation_id=f"{operation}_events",
        summary=f"The events of one {aggregate.name}, oldest first",
        description=FOLLOW_DESCRIPTION,
        dependencies=[only_parameters("after", "limit", "follow")],
        **{**common, "responses": {**RESPONSES, 200: FOLLOW_RESPONSE}},
    )
    async def aggregate_events(
        id: uuid.UUID,
        access: Access = Depends(admitted),
        after: Annotated[
            int, Query(ge=0, le=2**31 - 1, description="Only versions after this.")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 100,
        token: ConsistencyToken | None = CONSISTENT,
        follow: Annotated[bool, Query(description=FOLLOW_HELP)] = False,
        last_event_id: Annotated[
            int | None,
            Header(alias="Last-Event-ID", ge=0, le=2**63 - 1, description=LAST_EVENT_HELP),
        ] = None,
    ) -> Response:
        if follow:
            seen = await consistent_read(
                runtime, lambda connection: visible_row(connection, access, id), token
            )
            found(seen, missing(id))
            return await event_stream(
                runtime.live, aggregate.qualified_name(), access, id, last_event_id or 0
            )

        async def history(connection: AsyncConnection) -> list[dict[str, Any]] | None:
            if await visible_row(connection, access, id) is None:
                return None
            store = EventStore(connection, storage_of(aggregate).log)
            events = await store.history(aggregate, id, after_version=after, limit=limit)
            return [event.summary() for event in events]

        read = await consistent_read(runtime, history, token)
        data = found(read, missing(id))
        return JSONResponse({"status": "OK", "data": data}, headers=source_header(read))


@dataclass(frozen=True)
class Listing:
    """The list route of `domain.name` (an aggregate or a view): what it lists, as rows of
    `row`, and the name of its filter's schema; its path and OpenAPI names follow."""

    domain: str
    name: str
    table: Table
    row: type[BaseModel]
    filter_name: str

    @property
    def path(self) -> str:
        return f"/{self.domain}.{self.name}/"

    @property
    def operation(self) -> str:
        return f"{self.domain}_{self.name}_list"

    @property
    def summary(self) -> str:
        return f"List {self.name} rows"


def add_list_route(
    app: FastAPI,
    runtime: Runtime,
    listing: Listing,
    admitted: Callable[..., Awaitable[Access]],
    consistent: Any,
) -> None:
    """`GET listing.path` with `query=`, `sort=`, `limit` and `page` or `cursor`, confined to
    the caller's tenant and scope; `consistent` is the dependency that honours a token (it
    gives the token the read is to include)."""
    table = listing.table
    fields = fields_of(table)
    filter_reference = f"#/components/schemas/{listing.filter_name}"
    declare_component(app, listing.filter_name, filter_schema(fields, filter_reference))
    query_parameter = {
        "name": "query",
        "in": "query",
        "required": False,
        "description": QUERY_HELP,
        "content": {"application/json": {"schema": {"$ref": filter_reference}}},
    }

    @app.get(
        listing.path,
        response_model=list_reply(listing.row),
        operation_id=listing.operation,
        summary=listing.summary,
        openapi_extra={"parameters": [query_parameter]},
        dependencies=[only_parameters("query", "sort", "limit", "page", "cursor")],
        tags=[listing.domain],
        responses=RESPONSES,
    )
    async def list_rows_route(
        access: Access = Depends(admitted),
        query: Annotated[
            str | None, Query(max_length=QUERY_LENGTH, include_in_schema=False)
        ] = None,
        sort: Annotated[
            str | None,
            Query(
                max_length=512,
                description="Fields, as `balance.desc,owner`; a field named again is ignored.",
                json_schema_extra={"pattern": sort_pattern(fields)},  # checked by list_rows
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
        page: Annotated[int | None, Query(ge=1, le=10_000_000, description=PAGE_HELP)] = None,
        cursor: Annotated[str | None, Query(max_length=2048, description=CURSOR_HELP)] = None,
        token: ConsistencyToken | None = consistent,
    ) -> JSONResponse:
        async def listed(connection: AsyncConnection) -> Page:
            return await list_rows(
                connection,
                table,
                query=query,
                sort=sort,
                limit=limit,
                page=page,
                cursor=cursor,
                conditions=runtime.gate.row_conditions(access, table),
            )

        read = await consistent_read(runtime, listed, token)
        result = read.value
        rows = [listing.row.model_validate(row).model_dump(mode="json") for row in result.rows]
        return JSONResponse(
            {"status": "OK", "data": rows, "pagination": result.pagination},
            headers=source_header(read),
        )


async def visible(
    connection: AsyncConnection,
    runtime: Runtime,
    access: Access,
    table: Table,
    where: ColumnElement[bool],
) -> dict[str, Any] | None:
    """The row of `table` that `where` selects, if the caller's tenant and scope reach it."""
    query = select(table).where(where, *runtime.gate.row_conditions(access, table))
    row = (await connection.execute(query)).mappings().first()
    return dict(row) if row is not None else None


def found(read: Read[T | None], missing: str) -> T:
    """What `read` found; a 404 (`missing` says what), saying where it looked, when nothing."""
    if read.value is None:
        raise ProblemError(
            HTTPStatus.NOT_FOUND, NotFound.code, missing, headers=source_header(read)
        )
    return read.value
