"""Apply events to SQLite's read model, on the writer thread (or in a rebuild)."""

from __future__ import annotations

import sqlite3

from trackledger.eventlog.events import AnyEvent
from trackledger.projections import changes as ch
from trackledger.projections.merge import metric_series, plan, statements

__all__ = ["SQLiteProjector"]


class SQLiteProjector:
    """Applies events to the projection tables (or to their ``suffix`` shadow copies)."""

    def __init__(self, suffix: str = "") -> None:
        self._sql = statements("sqlite", suffix)

    def apply(self, conn: sqlite3.Connection, event: AnyEvent, pos: int) -> None:
        for change in ch.changes_for(event, pos):
            if isinstance(change, ch.AddMetrics):
                for series in metric_series(change):
                    # executemany's rowcount is the number of rows really inserted.
                    inserted = conn.executemany(self._sql.history, series.history).rowcount
                    conn.execute(self._sql.latest, series.latest_row(inserted))
                continue
            for step in plan(self._sql, change):
                if step.rows:
                    conn.executemany(step.sql, step.rows)
