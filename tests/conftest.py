"""Fixtures: a real backend per test (one parametrized fixture), an in-process API client,
and real server processes for end-to-end tests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from trackledger.api.app import create_app

from trackledger.backends import Backend, open_backend

BACKENDS = ["sqlite"]


class Clock:
    """An injectable clock: starts at a fixed time and moves only when told."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start
        self._ticks = itertools.count()

    def __call__(self) -> int:
        return self.now + next(self._ticks)

    def advance(self, ms: int) -> None:
        self.now += ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[Backend]:
    uri = f"sqlite:///{tmp_path / 'trackledger.db'}"
    opened = await open_backend(uri, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    async def given() -> Backend:
        return backend

    app = create_app(given)
    app.state.backend = backend  # ASGITransport does not run the lifespan
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def count_events(backend: Backend) -> int:
    return len(await backend.store.read_all(after=0, limit=10**9))


@pytest.fixture
def events(backend: Backend) -> Callable[[], object]:
    async def counter() -> int:
        return await count_events(backend)

    return counter
