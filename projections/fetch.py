"""The read side's port to a database: run one query, get its rows; or several at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["FetchAll", "FetchMany", "Rows", "gathered"]

Rows = list[tuple[Any, ...]]
#: Run one query (``?`` placeholders) and return all its rows as tuples.
FetchAll = Callable[[str, Sequence[Any]], Awaitable[Rows]]
#: Run independent queries (each ``(sql, params)``) and return each one's rows, in order:
#: SQLite reads them on one connection in one crossing of threads, PostgreSQL at once on
#: connections of their own (a round trip each).
FetchMany = Callable[[Sequence[tuple[str, Sequence[Any]]]], Awaitable[list[Rows]]]


def gathered(fetchall: FetchAll) -> FetchMany:
    """A ``FetchMany`` that runs each query through ``fetchall``, all at once."""

    async def fetch_many(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Rows]:
        return list(await asyncio.gather(*(fetchall(sql, params) for sql, params in statements)))

    return fetch_many
