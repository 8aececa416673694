"""Apply events to SQLite's read model, on the writer thread (or in a rebuild).

Each table gets one multi-row statement per change rather than ``executemany``: Python's
sqlite3 releases and re-takes the GIL around every step, and on a busy server each re-take
can wait for the event loop's thread, so the number of statements, not rows, sets the
writer's pace. ``apply_many`` goes further for a group of log-batch events: one statement
per kind of change for the whole group.

A long list of rows is cut into chunks whose sizes are powers of two (1,600 rows: 1,024,
512 and 64), so the few statement texts stay in the connection's statement cache:
preparing a statement of a thousand rows costs four times as much as running it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from trackledger.eventlog.events import AnyEvent
from trackledger.eventlog.sqlite_sql import many_rows
from trackledger.projections import changes as ch
from trackledger.projections.merge import plan, statements
from trackledger.projections.metric_rows import (
    MetricSeries,
    merge_series,
    metric_blocks,
    metric_series,
    model_metric_rows,
)
from trackledger.projections.replay_groups import segments

__all__ = ["SQLiteProjector"]


def _flat(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


#: SQLite's default limit on parameters per statement since 3.32 (SQLITE_MAX_VARIABLE_NUMBER).
_MAX_VARIABLES = 32766
#: The history rows an insert really added (the ones ON CONFLICT did not drop).
_RETURNING = " RETURNING run_id, key, step, timestamp, value, is_nan"
#: Up to this many rows go in one statement of exactly that size (such sizes recur).
_EXACT_ROWS = 128


def _chunks(count: int, most: int) -> list[tuple[int, int]]:
    """(start, end) ranges covering ``count`` rows: powers of two while more than
    ``_EXACT_ROWS`` are left (none above ``most``), then the rest at once."""
    ranges = []
    start = 0
    while count - start > _EXACT_ROWS:
        size = 1 << ((min(count - start, most)).bit_length() - 1)
        ranges.append((start, start + size))
        start += size
    if start < count:
        ranges.append((start, count))
    return ranges


class SQLiteProjector:
    """Applies events to the projection tables (or to their ``suffix`` shadow copies)."""

    def __init__(self, suffix: str = "") -> None:
        self._sql = statements("sqlite", suffix)

    def _insert(self, conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
        """Run ``sql`` for ``rows`` in as few statements as the cache allows; return how many
        rows they changed."""
        if len(rows) <= 1 or "VALUES (" not in sql:
            return sum(conn.execute(sql, row).rowcount for row in rows)
        changed = 0
        for start, end in _chunks(len(rows), _MAX_VARIABLES // len(rows[0])):
            chunk = rows[start:end]
            changed += conn.execute(many_rows(sql, len(chunk)), _flat(chunk)).rowcount
        return changed

    def apply(self, conn: sqlite3.Connection, event: AnyEvent, pos: int) -> None:
        self.apply_many(conn, [(event, pos)])

    def apply_many(self, conn: sqlite3.Connection, positioned: list[tuple[AnyEvent, int]]) -> None:
        """Apply several events with one statement per kind of change: the merges do not
        depend on order, so grouping them changes nothing but the number of statements (a
        purge apart, in log order: ``replay_groups.segments``)."""
        for part in segments(positioned):
            self._apply_together(conn, part)

    def _apply_together(
        self, conn: sqlite3.Connection, positioned: list[tuple[AnyEvent, int]]
    ) -> None:
        series: list[MetricSeries] = []
        steps: dict[str, list[tuple[Any, ...]]] = {}  # in first-seen order
        for event, pos in positioned:
            for change in ch.changes_for(event, pos):
                if isinstance(change, ch.AddMetrics):
                    series.extend(metric_series(change))
                    if model_rows := model_metric_rows(change):
                        steps.setdefault(self._sql.model_metric, []).extend(model_rows)
                    continue
                for step in plan(self._sql, change):
                    steps.setdefault(step.sql, []).extend(step.rows)
        if series:
            self._add_metrics(conn, series)
        for sql, rows in steps.items():
            self._insert(conn, sql, rows)

    def _add_metrics(self, conn: sqlite3.Connection, series: list[MetricSeries]) -> None:
        # A series twice (two events of one run and key) becomes one: each row once.
        series = merge_series(series)
        rows = [row for s in series for row in s.history]
        conn.execute("SAVEPOINT metrics")
        if self._insert(conn, self._sql.history, rows) == len(rows):
            inserted = [len(s.history) for s in series]
            blocks = sorted(b for s in series for b in s.blocks)
        else:
            # Some points were already there: keep what is new, series by series.
            conn.execute("ROLLBACK TO metrics")
            new = [self._insert_new(conn, s.history) for s in series]
            inserted = [len(n) for n in new]
            blocks = metric_blocks([row for n in new for row in n])
        conn.execute("RELEASE metrics")
        latest = [s.latest_row(new) for s, new in zip(series, inserted, strict=True)]
        self._insert(conn, self._sql.latest, latest)
        self._insert(conn, self._sql.block, blocks)

    def _insert_new(
        self, conn: sqlite3.Connection, rows: list[tuple[str, str, int, int, float, int]]
    ) -> list[tuple[str, str, int, int, float, int]]:
        """Insert history ``rows``; return those that were not there yet."""
        new = []
        for start, end in _chunks(len(rows), _MAX_VARIABLES // 6):
            chunk = rows[start:end]
            sql = many_rows(self._sql.history, len(chunk)) + _RETURNING
            new.extend(conn.execute(sql, _flat(chunk)).fetchall())
        return new
