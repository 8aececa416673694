"""Apply events to PostgreSQL's read model, inside the append transaction (or a rebuild)."""

from __future__ import annotations

from collections import Counter

import asyncpg

from trackledger.eventlog.events import AnyEvent
from trackledger.eventlog.postgres_sql import numbered
from trackledger.projections import changes as ch
from trackledger.projections.merge import metric_series, plan, statements

__all__ = ["PostgresProjector"]


class PostgresProjector:
    """Applies events to the projection tables (or to their ``suffix`` shadow copies)."""

    def __init__(self, suffix: str = "") -> None:
        self._sql = statements("postgres", suffix)
        self._latest = numbered(self._sql.latest)
        # One statement for all points of a batch; RETURNING tells which rows were new,
        # which the distinct-point count needs.
        self._history = (
            f"INSERT INTO metric_history{suffix} (run_id, key, step, timestamp, value, is_nan) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], "
            "$5::float8[], $6::int8[]) ON CONFLICT DO NOTHING RETURNING key"
        )

    async def apply(self, conn: asyncpg.Connection, event: AnyEvent, pos: int) -> None:
        for change in ch.changes_for(event, pos):
            if isinstance(change, ch.AddMetrics):
                await self._add_metrics(conn, change)
                continue
            for step in plan(self._sql, change):
                if len(step.rows) == 1:
                    await conn.execute(numbered(step.sql), *step.rows[0])
                elif step.rows:
                    await conn.executemany(numbered(step.sql), step.rows)

    async def _add_metrics(self, conn: asyncpg.Connection, change: ch.AddMetrics) -> None:
        series = metric_series(change)
        rows = [row for s in series for row in s.history]
        columns = [list(column) for column in zip(*rows, strict=True)]
        inserted = Counter(r["key"] for r in await conn.fetch(self._history, *columns))
        latest = [s.latest_row(inserted[s.key]) for s in series]
        if len(latest) == 1:
            await conn.execute(self._latest, *latest[0])
        else:
            await conn.executemany(self._latest, latest)
