"""Helpers for the registry's API tests."""

from __future__ import annotations

from trackledger.services.backends import Backend


async def event_count(backend: Backend) -> int:
    """How many events the log holds, counted with SQL (a tail of the log on a shared
    PostgreSQL server stops below other sessions' open transactions, so ``read_all`` may not
    see the newest events yet)."""
    sql = "SELECT COUNT(*) FROM events"
    if backend.kind == "sqlite":
        rows = await backend.writer.submit(  # type: ignore[attr-defined]
            lambda conn: conn.execute(sql).fetchall()
        )
        return int(rows[0][0])
    async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
        return int(await conn.fetchval(sql))
