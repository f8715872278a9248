"""Media: upload and download throughput over HTTP, on local disk and on S3 (moto's server), and
the server's peak memory while it receives a 1 GB upload.

`fluvius run` serves a one-aggregate service whose documents hold a file of any size; the client
streams bodies it makes on the fly and reads replies as streams, so neither side needs a file's
size in memory. Memory is the resident
set of the server's process tree, sampled every 20 ms during the upload, above its idle value.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import httpx

from bench.projects import fluvius, spec_project
from bench.report import show
from bench.servers import Server, fluvius_run, free_port, serve
from tests.media.stores import moto_server, s3_bucket

MB = 1_000_000
SIZES = ((1 * MB, 20), (100 * MB, 2))  # (bytes, files)
QUICK_SIZES = ((1 * MB, 3), (10 * MB, 1))
BIG = 1000 * MB
QUICK_BIG = 100 * MB
CHUNK = 256 * 1024
SPEC = """\
fluvius: 1
project: {name: vault}
domains:
  archive:
    aggregates:
      document:
        fields: {content: file}
        commands:
          file-document: {create: true, fields: {content: file}, emits: document-filed}
        events:
          document-filed: {fields: {content: file}, apply: {set: {content: $content}}}
        policies:
          archivist: {allow: [file-document, read]}
"""


def main(quick: bool = False) -> None:
    asyncio.run(_main(quick))


async def _main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="fluvius-bench-media-") as scratch:
        folder = Path(scratch)
        root = spec_project("vault", SPEC, folder)
        fluvius("migrate", "--project", str(root), database_url=_database(folder))
        rows = []
        with moto_server() as endpoint:
            stores = {
                "local": str(folder / "media"),
                "s3": s3_bucket(endpoint),
            }
            peaks = []
            for store, url in stores.items():
                environment = _environment(folder, url)
                port = free_port()
                async with serve(
                    fluvius_run(root, port),
                    port=port,
                    log=folder / f"{store}.log",
                    environment=environment,
                ) as server:
                    headers = _headers(root)
                    async with httpx.AsyncClient(
                        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600
                    ) as client:
                        if store == "local":
                            await _upload(client, MB)  # warm up: first request paths loaded
                            big = QUICK_BIG if quick else BIG
                            idle = server.rss_bytes()
                            peak, samples = await _peak_during(server, _upload(client, big))
                            above = (peak - idle) / 2**20
                            row = (f"{big // MB} MB upload", samples, idle / 2**20, peak / 2**20)
                            peaks.append((*row, above))
                        for size, count in QUICK_SIZES if quick else SIZES:
                            up, ids = await _uploads(client, size, count)
                            down = await _downloads(client, ids, size)
                            rows.append((store, f"{size // MB} MB x{count}", up, down))
        show(
            "Upload and download throughput (one client, sequential)",
            ("store", "files", "upload MB/s", "download MB/s"),
            rows,
        )
        show(
            "Server memory during one large upload (RSS of the process tree)",
            ("upload", "samples", "idle MiB", "peak MiB", "peak above idle MiB"),
            peaks,
            note="target: flat, under 50 MiB above idle",
        )


def _environment(folder: Path, media_url: str) -> dict[str, str]:
    return {
        "FLUVIUS_DATABASE_URL": _database(folder),
        "FLUVIUS_WORKERS": "off",
        "FLUVIUS_MEDIA_URL": media_url,
        "FLUVIUS_MEDIA_MAX_BYTES": str(2 * BIG),
    }


def _database(folder: Path) -> str:
    return f"sqlite:///{folder / 'vault.db'}"


def _headers(root: Path) -> dict[str, str]:
    from fluvius.fastapi.auth import mint_token
    from fluvius.settings import Settings

    settings = Settings.load(root.name, root)
    token = mint_token(settings, "bench", ("archivist",), ttl=dt.timedelta(hours=2))
    return {"Authorization": f"Bearer {token}"}


async def _body(size: int) -> AsyncIterator[bytes]:
    block = (b"%PDF-1.7\n" + bytes(range(256)) * (CHUNK // 256))[:CHUNK]
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


async def _upload(client: httpx.AsyncClient, size: int) -> str:
    headers = {"Content-Type": "application/pdf", "Content-Length": str(size)}
    response = await client.post("/media", content=_body(size), headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text}")
    return str(response.json()["data"]["id"])


async def _uploads(client: httpx.AsyncClient, size: int, count: int) -> tuple[float, list[str]]:
    started = time.perf_counter()
    ids = [await _upload(client, size) for _ in range(count)]
    return size * count / MB / (time.perf_counter() - started), ids


async def _downloads(client: httpx.AsyncClient, uploads: list[str], size: int) -> float:
    documents = []
    for upload in uploads:
        filed = await client.post("/archive:file-document/document/:new", json={"content": upload})
        if filed.status_code != 201:
            raise RuntimeError(f"filing failed: {filed.status_code} {filed.text}")
        documents.append(filed.json()["data"]["id"])
    started = time.perf_counter()
    for document in documents:
        async with client.stream("GET", f"/archive.document/{document}/content") as reply:
            received = sum([len(chunk) async for chunk in reply.aiter_raw()])
            if received != size:
                raise RuntimeError(f"downloaded {received} bytes of {size}")
    return size * len(documents) / MB / (time.perf_counter() - started)


async def _peak_during(server: Server, work: Awaitable[str]) -> tuple[int, int]:
    """The largest RSS of `server` while `work` runs, and how many times it was sampled."""
    peak = samples = 0
    task = asyncio.ensure_future(work)
    while not task.done():
        peak = max(peak, server.rss_bytes())
        samples += 1
        await asyncio.sleep(0.02)
    await task
    return peak, samples
