"""Fixtures: a real backend per test through one parametrized fixture (SQLite and
PostgreSQL), an in-process API client, an injectable clock."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.schemas import SchemaStock
from trackledger.api.app import create_app
from trackledger.eventlog.postgres_sql import numbered
from trackledger.services.artifact_store import LocalArtifactStore
from trackledger.services.backends import Backend, open_backend

BACKENDS = ["sqlite", "postgres"]

#: A PostgreSQL server the tests may create a database on (trust auth on CI machines).
POSTGRES = os.environ.get("TRACKLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")

#: The test run's database: each run (pytest's controller and its xdist workers, which
#: inherit the variable) gets a new one, dropped when the run ends. Each test's schema is
#: created and dropped in it, about 600 a run of 123 relations each; where the server runs
#: without autovacuum (as this workplace's does), a database kept from run to run piled up
#: their dead catalog rows (pg_attribute: 3.3 million, 680 MB after a few runs), and opening
#: a store there took 0.27-0.45 s instead of 0.15. Set it to keep a database of one's own.
DATABASE_VARIABLE = "TRACKLEDGER_TEST_DATABASE"
#: Databases of earlier runs (killed before they dropped theirs) are dropped once this old.
_STALE_AFTER_S = 6 * 3600
_RUN_DATABASE = re.compile(r"trackledger_test_(\d+)_[0-9a-f]+")
_OWN_DATABASE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or DATABASE_VARIABLE in os.environ:
        return
    name = f"trackledger_test_{int(time.time())}_{uuid.uuid4().hex[:8]}"
    os.environ[DATABASE_VARIABLE] = name
    config.stash[_OWN_DATABASE] = name


def pytest_unconfigure(config: pytest.Config) -> None:
    name = config.stash.get(_OWN_DATABASE, None)
    if name is not None:
        asyncio.run(_drop_run_databases(name))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of slow tests (real server processes, 10-100 s a file) first, each file's
    tests in their order: the workers take files in this order (``--dist loadfile
    --no-loadscope-reorder``, scripts/test), and a slow file taken last kept one worker
    busy for a minute after the other had finished."""
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)


async def _drop_run_databases(own: str) -> None:
    """Drop this run's database (it may never have been created) and earlier runs' stale ones."""
    try:
        conn = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError):
        return  # no server: no database was created
    try:
        names = [row[0] for row in await conn.fetch("SELECT datname FROM pg_database")]
        for name in names:
            match = _RUN_DATABASE.fullmatch(name)
            if name == own or (match and time.time() - int(match[1]) > _STALE_AFTER_S):
                # FORCE: a server process a failed test left behind may still be connected.
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


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


async def _ensure_test_database(name: str) -> str | None:
    """Create the run's database if needed; return why PostgreSQL is unusable, or None."""
    try:
        conn = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {POSTGRES} is unreachable: {exc}"
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                pass  # the other worker created it first (committed: the error waited)
    finally:
        await conn.close()
    return None


@pytest.fixture(scope="session")
def postgres_database() -> str:
    name = os.environ[DATABASE_VARIABLE]
    problem = asyncio.run(_ensure_test_database(name))
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}; CI must run the PostgreSQL tests")
        pytest.skip(problem)
    return f"{POSTGRES}/{name}"


async def _admin(database: str, sql: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_uri(postgres_database: str) -> Iterator[str]:
    """A fresh schema for one test; the URI selects it with search_path."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(postgres_database, f"CREATE SCHEMA {schema}"))
    try:
        yield f"{postgres_database}?search_path={schema}"
    finally:
        asyncio.run(_admin(postgres_database, f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="session")
def schema_stock(postgres_database: str) -> SchemaStock:
    return SchemaStock(postgres_database)


@pytest.fixture
def migrated_postgres_uri(postgres_database: str, schema_stock: SchemaStock) -> Iterator[str]:
    """A schema for one test, already migrated (``tests/schemas.py``)."""
    schema = asyncio.run(schema_stock.take())
    try:
        yield f"{postgres_database}?search_path={schema}"
    finally:
        asyncio.run(schema_stock.give_back(schema))


@pytest.fixture(params=BACKENDS)
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The backend store URI of one test, on each backend. A test that opens it through the
    ``backend`` fixture never sees it unmigrated: on PostgreSQL it gets a migrated schema
    (``tests/schemas.py``) unless marked ``fresh_schema``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trackledger.db'}"
    migrated = "backend" in request.fixturenames
    if migrated and request.node.get_closest_marker("fresh_schema") is None:
        fixture = "migrated_postgres_uri"
    else:
        fixture = "postgres_uri"
    uri: str = request.getfixturevalue(fixture)
    return uri


@pytest.fixture
async def backend(store_uri: str, clock: Clock) -> AsyncIterator[Backend]:
    opened = await open_backend(store_uri, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def client(backend: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async def given() -> Backend:
        return backend

    app = create_app(given, artifact_store=LocalArtifactStore(tmp_path / "artifacts"))
    app.state.backend = backend  # ASGITransport does not run the lifespan
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def stored_positions(backend: Backend) -> list[int]:
    """The position of every event in this test's own log, read straight from its table.

    Not through ``read_all``, the tailing reader's view: on PostgreSQL it stops below any
    transaction that may still append to the store (before postgres_tail.py, below any
    transaction open anywhere on the server, which made counts through it come out short
    and then grow with no write of the test's). The table shows every committed event.
    """
    sql = "SELECT position FROM events ORDER BY position"
    if backend.kind == "sqlite":
        rows = await backend.store.readers.fetchall(sql)  # type: ignore[attr-defined]
    else:
        async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
            rows = await conn.fetch(sql)
    return [row[0] for row in rows]


async def count_events(backend: Backend) -> int:
    return len(await stored_positions(backend))


@pytest.fixture
def events(backend: Backend) -> Callable[[], Any]:
    async def counter() -> int:
        return await count_events(backend)

    return counter


async def select_sql(backend: Backend, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query, read straight from the tables (``?`` placeholders)."""
    if backend.kind == "sqlite":
        return await backend.store.readers.fetchall(sql, params)  # type: ignore[attr-defined,no-any-return]
    async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
        return [tuple(row) for row in await conn.fetch(numbered(sql), *params)]


async def run_sql(backend: Backend, sql: str, *params: Any) -> None:
    """Change tables behind the log's back (to test that verify notices)."""
    if backend.kind == "sqlite":
        await backend.writer.submit(lambda conn: conn.execute(sql, params))  # type: ignore[attr-defined]
    else:
        async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
            await conn.execute(numbered(sql), *params)
