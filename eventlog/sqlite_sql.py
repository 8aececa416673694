"""SQL text for SQLite shared by the event store and the projections."""

from __future__ import annotations

import functools

__all__ = ["many_rows"]


@functools.lru_cache(maxsize=2048)
def many_rows(sql: str, rows: int) -> str:
    """``sql`` (an INSERT with one ``VALUES (?, ...)`` tuple) for ``rows`` rows at once."""
    head, _, rest = sql.partition("VALUES (")
    group, _, tail = rest.partition(")")
    return f"{head}VALUES {','.join([f'({group})'] * rows)}{tail}"
