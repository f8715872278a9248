"""A bank service with a `money` stream, on each database backend."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData

from fluvius.service import Service
from tests.streams.service import ALL_METADATA, bank_service


@pytest.fixture
def tables() -> tuple[MetaData, ...]:
    return ALL_METADATA


@pytest.fixture
def service() -> Service:
    return bank_service()
