"""Fixtures of the API tests: an event counter, the app itself, and a client that sees what
a real server would send when a handler fails (a JSON 500) instead of the exception; and
those of the tests with authentication on (auth_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.auth_helpers import admin, anonymous, auth_app, closed_app
from tests.api.registry_helpers import event_count
from trackledger.api.app import create_app
from trackledger.services.artifact_store import LocalArtifactStore
from trackledger.services.backends import Backend

__all__ = ["admin", "anonymous", "auth_app", "closed_app"]


@pytest.fixture
def logged(backend: Backend) -> Any:
    """Counts the log's events (see ``event_count``)."""

    async def count() -> int:
        return await event_count(backend)

    return count


@pytest.fixture
def edge_app(backend: Backend, tmp_path: Path) -> Starlette:
    async def given() -> Backend:
        return backend

    app = create_app(given, artifact_store=LocalArtifactStore(tmp_path / "artifacts"))
    app.state.backend = backend  # ASGITransport does not run the lifespan
    return app


@pytest.fixture
async def edge_client(edge_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client``, but an exception that escapes the app is answered (as a server
    answers it: starlette's ServerErrorMiddleware sends the 500) instead of raised here."""
    transport = httpx.ASGITransport(app=edge_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
