"""The read side's port to a database: run one query, get its rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["FetchAll"]

#: Run one query (``?`` placeholders) and return all its rows as tuples.
FetchAll = Callable[[str, Sequence[Any]], Awaitable[list[tuple[Any, ...]]]]
