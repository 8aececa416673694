"""Apply events to SQLite's read model, on the writer thread (or in a rebuild).

Each table gets one multi-row statement per change rather than ``executemany``: Python's
sqlite3 releases and re-takes the GIL around every step, and on a busy server each re-take
can wait for the event loop's thread, so the number of statements, not rows, sets the
writer's pace.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from trackledger.eventlog.events import AnyEvent
from trackledger.projections import changes as ch
from trackledger.projections.merge import MetricSeries, metric_series, plan, statements

__all__ = ["SQLiteProjector", "many_rows"]


@functools.lru_cache(maxsize=2048)
def many_rows(sql: str, rows: int) -> str:
    """``sql`` (an INSERT with one ``VALUES (?, ...)`` tuple) for ``rows`` rows at once."""
    head, _, rest = sql.partition("VALUES (")
    group, _, tail = rest.partition(")")
    return f"{head}VALUES {','.join([f'({group})'] * rows)}{tail}"


def _flat(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


class SQLiteProjector:
    """Applies events to the projection tables (or to their ``suffix`` shadow copies)."""

    def __init__(self, suffix: str = "") -> None:
        self._sql = statements("sqlite", suffix)

    def _insert(self, conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
        """Run ``sql`` for ``rows`` in one statement; return how many rows it changed."""
        if len(rows) == 1:
            return conn.execute(sql, rows[0]).rowcount
        return conn.execute(many_rows(sql, len(rows)), _flat(rows)).rowcount if rows else 0

    def apply(self, conn: sqlite3.Connection, event: AnyEvent, pos: int) -> None:
        for change in ch.changes_for(event, pos):
            if isinstance(change, ch.AddMetrics):
                self._add_metrics(conn, metric_series(change))
                continue
            for step in plan(self._sql, change):
                self._insert(conn, step.sql, step.rows)

    def _add_metrics(self, conn: sqlite3.Connection, series: list[MetricSeries]) -> None:
        rows = [row for s in series for row in s.history]
        conn.execute("SAVEPOINT metrics")
        if self._insert(conn, self._sql.history, rows) == len(rows):
            inserted = {s.key: len(s.history) for s in series}
        else:
            # Some points were already there: count what is new series by series.
            conn.execute("ROLLBACK TO metrics")
            inserted = {s.key: self._insert(conn, self._sql.history, s.history) for s in series}
        conn.execute("RELEASE metrics")
        self._insert(conn, self._sql.latest, [s.latest_row(inserted[s.key]) for s in series])
