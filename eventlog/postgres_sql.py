"""PostgreSQL plumbing shared by the store, the projector and the read model."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from trackledger.eventlog.errors import StoreUnavailable

__all__ = ["PgFetchAll", "connection", "is_outage", "numbered", "unavailable"]

#: What asyncpg raises while the database is down, restarting or out of connections.
_OUTAGES = (
    OSError,  # refused, reset, timed out
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (not that a query is wrong)."""
    if isinstance(exc, _OUTAGES):
        return True
    # A pooled connection the server closed under us: "connection is closed".
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"the database is unavailable: {exc}")


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; an outage while it is taken or used is StoreUnavailable."""
    try:
        async with pool.acquire() as conn:
            yield conn
    except Exception as exc:
        if is_outage(exc):
            raise unavailable(exc) from None
        raise


_MARK = re.compile(r"'(?:[^']|'')*'|\?")


@functools.lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """Turn ``?`` placeholders into ``$1, $2, ...`` (quoted literals are left alone)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() != "?":
            return match.group()
        count += 1
        return f"${count}"

    return _MARK.sub(number, sql)


class PgFetchAll:
    """The read model's port: run one ``?``-style query on a pooled connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def __call__(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with connection(self._pool) as conn:
            rows = await conn.fetch(numbered(sql), *params)
        return [tuple(row) for row in rows]

    async def commit_mark(self) -> str:
        """A mark of what the server has committed: its current snapshot (``xmin:xmax:xip``).
        A transaction that writes takes an xid, and its end (commit or abort) moves xmax
        (one past the latest xid ended) or takes its xid out of the in-progress list, which
        gains no xid below xmax. Two equal marks: nothing was committed between them, so
        any statement between them read the same tables. Conservative: a write to another
        database of the server changes the mark too."""
        async with connection(self._pool) as conn:
            return str(await conn.fetchval("SELECT pg_current_snapshot()::text"))
