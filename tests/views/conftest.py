"""A bank service with a view, on each database backend."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData

from tests.views.service import ALL_METADATA


@pytest.fixture
def tables() -> tuple[MetaData, ...]:
    return ALL_METADATA
