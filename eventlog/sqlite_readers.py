"""A small pool of read-only aiosqlite connections.

In WAL mode readers never block the writer nor each other; each sees the last committed
state, which includes every acknowledged write (read-your-writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

__all__ = ["ReaderPool"]


class ReaderPool:
    def __init__(self, path: str, size: int = 4) -> None:
        self._uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        self._size = size
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all: list[aiosqlite.Connection] = []

    async def open(self) -> None:
        for _ in range(self._size):
            conn = await aiosqlite.connect(self._uri, uri=True)
            await conn.execute("PRAGMA query_only=1")
            await conn.execute("PRAGMA busy_timeout=30000")
            await conn.execute("PRAGMA temp_store=MEMORY")  # sorts of a search page
            self._all.append(conn)
            self._idle.put_nowait(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        async with self.connection() as conn:
            rows = await conn.execute_fetchall(sql, tuple(params))
        return [tuple(row) for row in rows]

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()
