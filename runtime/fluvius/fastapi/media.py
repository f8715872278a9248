"""Media routes: uploads, and the downloads of a state's file fields.

    POST /media                            the body (raw, or a multipart file part), streamed
    GET  /{domain}.{aggregate}/{id}/{field}  the file, for whoever may read the row

An upload is its uploader's, in its tenant, until a command records it or it expires. A download
reads the row as `GET /{domain}.{aggregate}/{id}` does (tenant, scope, policies), then streams
the bytes, with Range requests, or redirects to a short-lived signed URL where the store and the
settings allow. This module does not postpone annotations: FastAPI reads the endpoints' types.
"""

import datetime as dt
import uuid
from collections.abc import AsyncIterable
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Table

from fluvius.casbin.permission import READ
from fluvius.data.mapping import storage_of
from fluvius.data.uploads import UploadRecord, record_upload
from fluvius.domain.aggregate import Aggregate
from fluvius.domain.errors import NotFound
from fluvius.domain.files import FileInfo, file_fields
from fluvius.fastapi.access import Access, Credentials
from fluvius.fastapi.problems import ProblemError, problem_responses
from fluvius.fastapi.queries import only_parameters, visible_row
from fluvius.fastapi.ranges import Unsatisfiable, byte_range
from fluvius.fastapi.replies import Reply
from fluvius.fastapi.runtime import Runtime
from fluvius.ids import uuid7
from fluvius.media import TooLarge, receive
from fluvius.media.multipart import FilePart, FormError

UPLOAD_PATH = "/media"
NAME_LENGTH = 255


class UploadOutcome(BaseModel):
    """A stored upload: give its id to a command's file field before it expires."""

    id: uuid.UUID
    name: str
    size: int
    sha256: str
    content_type: str
    expires_at: dt.datetime


class UploadReply(Reply):
    data: UploadOutcome


def add_upload_route(app: FastAPI, runtime: Runtime, uploads: Table) -> None:
    """`POST /media`: store a file for the caller (a row of `uploads`), to be named by a
    command's file field."""
    settings = runtime.settings

    @app.post(
        UPLOAD_PATH,
        status_code=HTTPStatus.CREATED,
        response_model=UploadReply,
        operation_id="media_upload",
        summary="Upload a file",
        description=(
            "The body is the file (its Content-Type), or a multipart/form-data body with one "
            f"file part. At most {settings.media_max_bytes} bytes; the content type is read "
            "from the file's first bytes. The upload expires unless a command records it "
            f"within {settings.media_upload_ttl_s} seconds."
        ),
        tags=["media"],
        dependencies=[only_parameters("name")],
        responses=problem_responses(
            HTTPStatus.BAD_REQUEST,
            HTTPStatus.UNAUTHORIZED,
            HTTPStatus.FORBIDDEN,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            HTTPStatus.UNPROCESSABLE_ENTITY,
        ),
    )
    async def upload(
        request: Request,
        credentials: Credentials,
        name: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=NAME_LENGTH,
                description="The file's name (a multipart part's filename wins).",
            ),
        ] = None,
    ) -> JSONResponse:
        token = credentials.credentials if credentials is not None else None
        principal = await runtime.gate.identify(token, f"POST {UPLOAD_PATH}")
        announced = request.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > settings.media_max_bytes:
            raise _too_large(settings.media_max_bytes)
        declared = request.headers.get("content-type")
        upload_id = uuid7()
        part = None
        chunks: AsyncIterable[bytes] = request.stream()
        try:
            if declared and declared.lower().startswith("multipart/form-data"):
                part = FilePart(declared)
                chunks = part.chunks(chunks)
                declared = None
            received = await receive(
                runtime.media, str(upload_id), chunks, limit=settings.media_max_bytes
            )
        except TooLarge as error:
            raise _too_large(error.limit) from None
        except FormError as error:
            raise ProblemError(HTTPStatus.BAD_REQUEST, "bad-form", str(error)) from None
        if part is not None:
            name, declared = part.filename or name, part.content_type
        now = dt.datetime.now(dt.UTC)
        record = UploadRecord(
            id=upload_id,
            tenant_id=principal.tenant or "",
            owner=principal.sub or "",
            name=(name or str(upload_id))[:NAME_LENGTH],
            size=received.size,
            sha256=received.sha256,
            content_type=received.content_type(declared),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=settings.media_upload_ttl_s),
        )
        try:
            async with runtime.database.write.begin() as connection:
                await record_upload(connection, uploads, record)
        except BaseException:
            await runtime.media.delete(str(upload_id))
            raise
        outcome = UploadOutcome(
            id=record.id,
            name=record.name,
            size=record.size,
            sha256=record.sha256,
            content_type=record.content_type,
            expires_at=record.expires_at,
        )
        return JSONResponse(
            {"status": "OK", "data": outcome.model_dump(mode="json")},
            status_code=HTTPStatus.CREATED,
        )


def add_file_routes(app: FastAPI, runtime: Runtime, aggregate: type[Aggregate[Any]]) -> None:
    """One download route per file field of `aggregate`'s state."""
    admitted = runtime.gate.require(aggregate.qualified_name(), READ)
    table = storage_of(aggregate).table
    for field in file_fields(aggregate.state_type):
        _add_download(app, runtime, aggregate, admitted, field, table.name)


def _add_download(
    app: FastAPI,
    runtime: Runtime,
    aggregate: type[Aggregate[Any]],
    admitted: Any,
    field: str,
    table_name: str,
) -> None:
    settings = runtime.settings

    @app.get(
        f"/{aggregate.domain}.{aggregate.name}/{{id}}/{field}",
        operation_id=f"{table_name}_{field}_download",
        summary=f"The {field} file of one {aggregate.name}",
        tags=[aggregate.domain],
        dependencies=[only_parameters()],
        response_class=Response,
        responses={
            HTTPStatus.OK.value: {"description": "The file.", "content": {"*/*": {}}},
            HTTPStatus.PARTIAL_CONTENT.value: {"description": "The bytes asked by Range."},
            HTTPStatus.NOT_MODIFIED.value: {"description": "The file is the one named by ETag."},
            HTTPStatus.TEMPORARY_REDIRECT.value: {"description": "A short-lived signed URL."},
            **problem_responses(
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.UNAUTHORIZED,
                HTTPStatus.FORBIDDEN,
                HTTPStatus.NOT_FOUND,
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                HTTPStatus.UNPROCESSABLE_ENTITY,
            ),
        },
    )
    async def download(
        id: uuid.UUID, request: Request, access: Access = Depends(admitted)
    ) -> Response:
        row = await visible_row(runtime, aggregate, access, id)
        if row.get(field) is None:
            raise NotFound(f"{aggregate.qualified_name()} {id} has no {field}")
        info = FileInfo.model_validate(row[field])
        size, key = info.size or 0, info.id
        etag = f'"{info.sha256}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name or key)}",
            "Cache-Control": "private",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=HTTPStatus.NOT_MODIFIED, headers=headers)
        if settings.media_presign and (url := await runtime.media.link(key, settings.media_link_s)):
            return RedirectResponse(url, status_code=HTTPStatus.TEMPORARY_REDIRECT)
        try:
            span = byte_range(request.headers.get("range"), size)
        except Unsatisfiable:
            raise ProblemError(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                f"the file has {size} bytes",
                headers={"Content-Range": f"bytes */{size}"},
            ) from None
        start, end = span or (0, size)
        headers["Content-Length"] = str(end - start)
        status = HTTPStatus.OK
        if span is not None:
            status = HTTPStatus.PARTIAL_CONTENT
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        return StreamingResponse(
            runtime.media.read(key, start, end),
            status_code=status,
            headers=headers,
            media_type=info.content_type,
        )


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "payload-too-large",
        f"the file is over {limit} bytes",
    )
