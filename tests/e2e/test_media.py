"""File fields end to end: the clinic attaches a scan to a patient, on SQLite and PostgreSQL,
with the files on local disk and on an S3 server."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from fluvius.application.uploads import EXPIRY_WORKER
from fluvius.data import Database
from fluvius.testing.api import Api
from fluvius.worker.context import WorkerContext
from tests.e2e.conftest import ProjectFactory
from tests.e2e.projects import fluvius, fluvius_fails, import_service, served
from tests.media.stores import media_url, s3_bucket, s3_endpoint

__all__ = ["media_url", "s3_endpoint"]

pytestmark = pytest.mark.slow

REGISTER = "/scheduling:register-patient/patient/:new"
PATIENT = {"account_id": "p-1", "full_name": "Ada", "birth_date": "1990-05-01", "phone": "1"}
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
ZIP = b"PK\x03\x04" + b"\0" * 100
PROBLEM = "application/problem+json"


@asynccontextmanager
async def clinic(
    examples: dict[str, Path], database_url: str, media_url: str, **changes: Any
) -> AsyncIterator[Api]:
    service = import_service(examples["clinic"], "clinic")
    async with served(service, database_url, media_url=media_url, **changes) as api:
        yield api


async def _patient(caller: httpx.AsyncClient, account: str = "p-1") -> str:
    response = await caller.post(REGISTER, json={**PATIENT, "account_id": account})
    assert response.status_code == 201, response.text
    patient: str = response.json()["data"]["id"]
    return patient


async def _upload(caller: httpx.AsyncClient, body: bytes, content_type: str) -> dict[str, Any]:
    response = await caller.post(
        "/media", content=body, headers={"Content-Type": content_type}, params={"name": "s.pdf"}
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _attach(caller: httpx.AsyncClient, patient: str, scan: str) -> httpx.Response:
    """The answer to attaching the upload `scan` to `patient`."""
    return await caller.post(f"/scheduling:attach-scan/patient/{patient}", json={"scan": scan})


async def _attached(caller: httpx.AsyncClient, patient: str, scan: str) -> httpx.Response:
    """The upload `scan` attached to `patient`: the command's reply."""
    response = await _attach(caller, patient, scan)
    assert response.status_code == 200, response.text
    return response


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def test_a_scan_is_uploaded_attached_recorded_and_downloaded(
    examples: dict[str, Path], database_url: str, media_url: str
) -> None:
    async with (
        clinic(examples, database_url, media_url) as api,
        api.client("receptionist") as desk,
    ):
        patient = await _patient(desk)
        upload = await _upload(desk, PDF, "image/png")  # the bytes say PDF
        digest = hashlib.sha256(PDF).hexdigest()
        assert upload["size"] == len(PDF)
        assert upload["sha256"] == digest
        assert upload["content_type"] == "application/pdf"

        attached = await _attached(desk, patient, upload["id"])
        recorded = attached.json()["data"]["events"][0]["data"]["scan"]
        expected = {
            "id": upload["id"],
            "name": "s.pdf",
            "size": len(PDF),
            "sha256": digest,
            "content_type": "application/pdf",
        }
        assert recorded == expected
        row = (await desk.get(f"/scheduling.patient/{patient}")).json()["data"]
        assert row["scan"] == expected

        url = f"/scheduling.patient/{patient}/scan"
        whole = await desk.get(url)
        assert whole.status_code == 200
        assert whole.content == PDF
        assert whole.headers["etag"] == f'"{digest}"'
        assert whole.headers["content-type"] == "application/pdf"
        assert whole.headers["content-length"] == str(len(PDF))

        part = await desk.get(url, headers={"Range": "bytes=10-99"})
        assert part.status_code == 206
        assert part.content == PDF[10:100]
        assert part.headers["content-range"] == f"bytes 10-99/{len(PDF)}"
        tail = await desk.get(url, headers={"Range": "bytes=-5"})
        assert (tail.status_code, tail.content) == (206, PDF[-5:])
        _problem(
            await desk.get(url, headers={"Range": f"bytes={len(PDF)}-"}),
            416,
            "range-not-satisfiable",
        )
        assert (await desk.get(url, headers={"If-None-Match": f'"{digest}"'})).status_code == 304


async def test_a_multipart_upload_takes_the_file_part(
    examples: dict[str, Path], database_url: str, media_url: str
) -> None:
    async with (
        clinic(examples, database_url, media_url) as api,
        api.client("receptionist") as desk,
    ):
        files = {"file": ("knee.png", PNG, "image/png")}
        response = await desk.post("/media", files=files, data={"note": "left"})
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert (data["name"], data["size"], data["content_type"]) == (
            "knee.png",
            len(PNG),
            "image/png",
        )
        patient = await _patient(desk)
        await _attached(desk, patient, data["id"])
        download = await desk.get(f"/scheduling.patient/{patient}/scan")
        assert download.content == PNG


async def test_bad_uploads_and_bad_file_fields_are_refused(
    examples: dict[str, Path], database_url: str, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    async with (
        clinic(examples, database_url, str(media), media_max_bytes=len(PDF)) as api,
        api.client("receptionist") as desk,
        api.client("receptionist", sub="other") as other,
        api.client() as anonymous,
    ):
        patient = await _patient(desk)
        _problem(await anonymous.post("/media", content=PDF), 401, "unauthenticated")
        _problem(await desk.post("/media", content=PDF + b"!"), 413, "payload-too-large")
        assert not [path for path in media.rglob("*") if path.is_file()]  # nothing kept

        archive = await _upload(desk, ZIP, "application/pdf")
        refused = await _attach(desk, patient, archive["id"])
        body = _problem(refused, 415, "unsupported-file-type")
        assert body["errors"][0]["field"] == "body.scan"

        theirs = await _upload(other, PDF, "application/pdf")
        refused = await _attach(desk, patient, theirs["id"])
        assert _problem(refused, 422, "invalid-file")["errors"][0]["field"] == "body.scan"

        unknown = await _attach(desk, patient, str(uuid.uuid4()))
        assert _problem(unknown, 422, "invalid-file")["errors"][0]["field"] == "body.scan"
        _problem(await _attach(desk, patient, "x"), 422, "invalid-request")

        stale = await _upload(desk, PDF, "application/pdf")
        await _expire(api, database_url, stale["id"])
        expired = await _attach(desk, patient, stale["id"])
        body = _problem(expired, 422, "invalid-file")
        assert "expired" in body["detail"]


async def test_a_file_over_its_fields_limit_is_refused_with_413(
    examples: dict[str, Path], database_url: str, tmp_path: Path
) -> None:
    big = b"%PDF-1.7\n" + b"\0" * 10_000_000  # over the scan's 10MB
    async with (
        clinic(examples, database_url, str(tmp_path), media_max_bytes=20_000_000) as api,
        api.client("receptionist") as desk,
    ):
        patient = await _patient(desk)
        upload = await _upload(desk, big, "application/pdf")
        refused = await _attach(desk, patient, upload["id"])
        assert _problem(refused, 413, "file-too-large")["errors"][0]["field"] == "body.scan"


async def test_only_who_may_read_the_row_downloads_its_file(
    examples: dict[str, Path], database_url: str, media_url: str
) -> None:
    async with clinic(examples, database_url, media_url) as api:
        async with api.client("receptionist") as desk:
            mine, theirs = await _patient(desk, "p-1"), await _patient(desk, "p-2")
            for patient in (mine, theirs):
                upload = await _upload(desk, PDF, "application/pdf")
                await _attached(desk, patient, upload["id"])
        async with api.client("patient", sub="p-1") as patient_1:
            assert (await patient_1.get(f"/scheduling.patient/{mine}/scan")).content == PDF
            denied = await patient_1.get(f"/scheduling.patient/{theirs}/scan")
            _problem(denied, 404, "not-found")
        async with api.client("receptionist", tenant="elsewhere") as stranger:
            _problem(await stranger.get(f"/scheduling.patient/{mine}/scan"), 404, "not-found")
        async with api.client() as anonymous:
            denied = await anonymous.get(f"/scheduling.patient/{mine}/scan")
            _problem(denied, 401, "unauthenticated")


async def _expire(api: Api, database_url: str, upload_id: str) -> None:
    """Move the upload's expiry into the past, as if its time had run out."""
    uploads = api.app.state.runtime.service.tables.uploads
    assert uploads is not None
    database = Database(database_url)
    try:
        async with database.write.begin() as connection:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            statement = update(uploads).where(uploads.c.id == uuid.UUID(upload_id))
            await connection.execute(statement.values(expires_at=past))
    finally:
        await database.dispose()


async def test_the_shop_shows_a_product_photo_to_anyone(
    examples: dict[str, Path], database_url: str, media_url: str
) -> None:
    product = {
        "sku": "SKU-1",
        "title": "Teapot",
        "details": "A teapot.",
        "price": "12.50",
        "weight_kg": 0.8,
        "attributes": {},
    }
    service = import_service(examples["shop"], "shop")
    async with served(service, database_url, media_url=media_url) as api:
        async with api.client("merchandiser") as merchandiser:
            created = await merchandiser.post("/catalog:create-product/product/:new", json=product)
            assert created.status_code == 201, created.text
            product_id = created.json()["data"]["id"]
            photo = await _upload(merchandiser, PNG, "image/png")
            pdf = await _upload(merchandiser, PDF, "application/pdf")
            refused = await merchandiser.post(
                f"/catalog:set-photo/product/{product_id}", json={"photo": pdf["id"]}
            )
            _problem(refused, 415, "unsupported-file-type")
            response = await merchandiser.post(
                f"/catalog:set-photo/product/{product_id}", json={"photo": photo["id"]}
            )
            assert response.status_code == 200, response.text
        async with api.client() as visitor:
            shown = await visitor.get(f"/catalog.product/{product_id}/photo")
            assert (shown.status_code, shown.content) == (200, PNG)
            assert shown.headers["content-type"] == "image/png"


async def test_the_expiry_worker_forgets_unused_expired_uploads_only(
    examples: dict[str, Path], database_url: str, media_url: str
) -> None:
    async with (
        clinic(examples, database_url, media_url) as api,
        api.client("receptionist") as desk,
    ):
        patient = await _patient(desk)
        used, waiting, stale = [await _upload(desk, PDF, "application/pdf") for _ in "abc"]
        await _attached(desk, patient, used["id"])
        await _expire(api, database_url, used["id"])
        await _expire(api, database_url, stale["id"])

        runtime = api.app.state.runtime
        workers = [w for _, w in runtime.service.workers() if w.name == EXPIRY_WORKER]
        assert len(workers) == 1
        context = WorkerContext(runtime.processor, EXPIRY_WORKER, media=runtime.media)
        await workers[0].handler(context)

        assert await runtime.media.size(stale["id"]) is None
        assert await runtime.media.size(waiting["id"]) == len(PDF)
        assert await runtime.media.size(used["id"]) == len(PDF)
        download = await desk.get(f"/scheduling.patient/{patient}/scan")
        assert download.content == PDF
        refused = await _attach(desk, patient, stale["id"])
        assert _problem(refused, 422, "invalid-file")["errors"][0]["field"] == "body.scan"


def test_verify_checks_every_recorded_file_against_its_sha256(
    projects: ProjectFactory, tmp_path: Path
) -> None:
    root = projects.copy("clinic", tmp_path)
    fluvius("migrate", "up", cwd=root)
    media = root / "var" / "media"
    database_url = f"sqlite:///{root / 'var' / 'clinic.db'}"

    async def attach() -> str:
        service = import_service(root, "clinic")
        async with (
            served(service, database_url, media_url=str(media)) as api,
            api.client("receptionist") as desk,
        ):
            upload = await _upload(desk, PDF, "application/pdf")
            patient = await _patient(desk)
            await _attached(desk, patient, upload["id"])
            return str(upload["id"])

    upload_id = asyncio.run(attach())
    assert "scheduling.patient files: 1 checked" in fluvius("verify", cwd=root)
    (media / upload_id).write_bytes(PDF[:-1] + b"!")
    assert "not the recorded" in fluvius_fails("verify", cwd=root)
    (media / upload_id).unlink()
    assert f"file {upload_id} is missing from the media store" in fluvius_fails("verify", cwd=root)


async def test_an_upload_streamed_past_the_limit_stops_with_413_and_keeps_nothing(
    examples: dict[str, Path], database_url: str, media_url: str
) -> None:
    async def body() -> AsyncIterator[bytes]:  # no Content-Length: the limit is met mid-stream
        for _ in range(8):
            yield PDF

    async with (
        clinic(examples, database_url, media_url, media_max_bytes=3 * len(PDF)) as api,
        api.client("receptionist") as desk,
    ):
        _problem(await desk.post("/media", content=body()), 413, "payload-too-large")
        uploads = api.app.state.runtime.service.tables.uploads
        database = Database(database_url)
        try:
            async with database.read.connect() as connection:
                rows = (
                    await connection.execute(select(func.count()).select_from(uploads))
                ).scalar()
        finally:
            await database.dispose()
        assert rows == 0


async def test_a_download_from_s3_can_redirect_to_a_signed_url(
    examples: dict[str, Path], database_url: str, s3_endpoint: str
) -> None:
    async with (
        clinic(examples, database_url, s3_bucket(s3_endpoint), media_presign=True) as api,
        api.client("receptionist") as desk,
    ):
        patient = await _patient(desk)
        upload = await _upload(desk, PDF, "application/pdf")
        await _attached(desk, patient, upload["id"])
        redirect = await desk.get(f"/scheduling.patient/{patient}/scan")
        assert redirect.status_code == 307
        signed = redirect.headers["location"]
        assert signed.startswith(s3_endpoint)
        assert "X-Amz-Signature=" in signed
        async with httpx.AsyncClient() as outside:
            assert (await outside.get(signed)).content == PDF
