"""A registered model as it was at a past moment: its stream replayed with the projection code.

The events of the model's stream up to the moment are applied by the same projector that
keeps the live tables (``SQLiteProjector``), into the same tables in a private in-memory
SQLite database, and read back by the same read model (``RegistryReads``). So an answer "as
of" a moment is what the live API answered then, by construction: no rule exists twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

from trackledger.eventlog.store import StoredEvent
from trackledger.projections.registry_reads import RegistryReads
from trackledger.projections.schema import projection_ddl
from trackledger.projections.sqlite_apply import SQLiteProjector

__all__ = ["RegistryAsOf", "replayed"]


class RegistryAsOf:
    """The registry tables rebuilt from some events, with the read model over them."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.reads = RegistryReads(self._fetchall, "sqlite")

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            return [tuple(row) for row in self._conn.execute(sql, tuple(params)).fetchall()]

        return await asyncio.to_thread(run)

    def close(self) -> None:
        self._conn.close()


def _replay(events: list[StoredEvent]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        for ddl in projection_ddl("sqlite"):
            conn.execute(ddl)
        projector = SQLiteProjector()
        conn.execute("BEGIN")
        for stored in events:
            projector.apply(conn, stored.event, stored.position)
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn


async def replayed(events: list[StoredEvent]) -> RegistryAsOf:
    """The registry state that ``events`` (one model's stream, in log order) leave behind.
    The caller closes it."""
    return RegistryAsOf(await asyncio.to_thread(_replay, events))
