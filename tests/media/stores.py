"""Media stores for the tests: a folder, and an S3 bucket on moto's standalone server."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.network import free_port

S3_CREDENTIALS = "access_key_id=testing&secret_access_key=testing&region=us-east-1"


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port, stopped at the end of the block."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "moto's server stopped"
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "moto's server never answered"
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the session."""
    with moto_server() as endpoint:
        yield endpoint


def s3_bucket(endpoint: str) -> str:
    """A new bucket on the server at `endpoint`, as a FLUVIUS_MEDIA_URL."""
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    httpx.put(f"{endpoint}/{bucket}").raise_for_status()
    return f"s3://{bucket}?endpoint={endpoint}&{S3_CREDENTIALS}"


@pytest.fixture(params=["local", "s3"])
def media_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty media store: a folder, or a bucket on moto's S3 server."""
    if request.param == "local":
        return str(tmp_path / "media")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return s3_bucket(endpoint)
