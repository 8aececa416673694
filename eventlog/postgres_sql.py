"""PostgreSQL plumbing shared by the store, the projector and the read model."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import asyncpg

__all__ = ["PgFetchAll", "numbered"]

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
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(numbered(sql), *params)
        return [tuple(row) for row in rows]
