"""A database with the bank domain's tables, on each backend."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData

from tests.runtime.bank import metadata


@pytest.fixture
def tables() -> tuple[MetaData, ...]:
    return (metadata,)
