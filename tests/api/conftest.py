"""Fixtures of the API tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.registry_helpers import event_count
from trackledger.services.backends import Backend


@pytest.fixture
def logged(backend: Backend) -> Any:
    """Counts the log's events (see ``event_count``)."""

    async def count() -> int:
        return await event_count(backend)

    return count
