"""A media store on S3 or any S3-compatible server, through obstore (the `s3` extra).

obstore is chosen for being async and streaming both ways (multipart uploads from an async
iterator, ranged reads as streams), maintained, and one binary wheel with no Python
dependencies, where boto3-based clients bring botocore and aiohttp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, AsyncIterator, Mapping

try:
    import obstore
    from obstore.exceptions import NotFoundError
    from obstore.store import S3Store as _Client
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError("an s3:// FLUVIUS_MEDIA_URL needs `pip install fluvius[s3]`") from error

PART_SIZE = 8 * 1024 * 1024
_OPTIONS = {"endpoint", "region", "access_key_id", "secret_access_key", "session_token"}


class S3Store:
    """Keys under `prefix` in `bucket`; credentials from the query string or the usual
    AWS_* environment variables. `endpoint=http://...` allows plain HTTP (a local server)."""

    def __init__(self, bucket: str, prefix: str, options: Mapping[str, str]) -> None:
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ValueError(f"unknown FLUVIUS_MEDIA_URL option '{unknown[0]}'")
        config: dict[str, str | bool] = dict(options)
        client_options = (
            {"allow_http": True} if options.get("endpoint", "").startswith("http:") else {}
        )
        self.client = _Client(
            bucket,
            prefix=prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options=client_options,  # type: ignore[arg-type]
        )

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        await obstore.put_async(self.client, key, chunks, chunk_size=PART_SIZE, max_concurrency=2)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        options: obstore.GetOptions = (
            {"range": {"offset": start}} if end is None else {"range": (start, end)}
        )
        result = await obstore.get_async(self.client, key, options=options)
        async for chunk in result.stream():
            yield bytes(chunk)

    async def size(self, key: str) -> int | None:
        try:
            return (await obstore.head_async(self.client, key))["size"]
        except (FileNotFoundError, NotFoundError):
            return None

    async def delete(self, key: str) -> None:
        await obstore.delete_async(self.client, key)

    async def link(self, key: str, seconds: int) -> str | None:
        return await obstore.sign_async(self.client, "GET", key, dt.timedelta(seconds=seconds))
