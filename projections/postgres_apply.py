"""Apply events to PostgreSQL's read model, inside the append transaction (or a rebuild)."""

from __future__ import annotations

import asyncpg

from trackledger.eventlog.events import AnyEvent
from trackledger.eventlog.postgres_sql import numbered
from trackledger.projections import changes as ch
from trackledger.projections.merge import BLOCK_COLUMNS, plan, statements
from trackledger.projections.metric_rows import (
    BLOCK_SHIFT,
    merge_series,
    metric_series,
    model_metric_rows,
)
from trackledger.projections.replay_groups import segments

__all__ = ["PostgresProjector"]

_HISTORY_COLUMNS = ("run_id", "key", "step", "timestamp", "value", "is_nan")


class PostgresProjector:
    """Applies events to the projection tables (or to their ``suffix`` shadow copies)."""

    def __init__(self, suffix: str = "") -> None:
        self._sql = statements("postgres", suffix)
        # A group's points go in one of two ways. Almost always none of them is held yet:
        # then they are copied in (COPY, the cheapest way in, the unique index checking
        # each on its way) and the latest-metrics merge counts them all. A group with a
        # point the table already holds, or one point twice, fails that and is written by
        # one statement that drops the duplicates and counts only the rows that were new.
        # (ON CONFLICT probes the index before every row: the history's index twice over.)
        self._history = f"metric_history{suffix}"
        values = "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        assert values in self._sql.latest
        latest = (
            "SELECT l.run_id, l.key, l.value, l.ts, l.step, l.is_nan, l.lo, l.hi, {count} "
            "FROM unnest(${0}::text[], ${1}::text[], ${2}::float8[], ${3}::int8[], "
            "${4}::int8[], ${5}::int8[], ${6}::float8[], ${7}::float8[]{counts}) "
            "AS l(run_id, key, value, ts, step, is_nan, lo, hi{n}) {join}"
            # One lock order for every writer.
            "ORDER BY l.run_id, l.key"
        )
        self._counted = self._sql.latest.replace(
            values,
            latest.format(*range(1, 9), count="l.n", counts=", $9::int8[]", n=", n", join=""),
        )
        blocks = f"INSERT INTO metric_blocks{suffix} AS t ({BLOCK_COLUMNS}) "
        self._blocks = (
            blocks + "SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], "
            "$5::int8[], $6::int8[], $7::int8[], $8::float8[], $9::float8[], $10::int8[], "
            "$11::int8[])" + self._sql.block_merge
        )
        finite = "FILTER (WHERE is_nan = 0)"
        self._merging = (
            f"WITH new AS (INSERT INTO {self._history} ({', '.join(_HISTORY_COLUMNS)}) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], "
            "$5::float8[], $6::int8[]) ON CONFLICT DO NOTHING "
            f"RETURNING {', '.join(_HISTORY_COLUMNS)}), "
            "counted AS (SELECT run_id, key, count(*) AS n FROM new GROUP BY run_id, key), "
            # The blocks sum up only the points that were new.
            f"blocks AS ({blocks}SELECT run_id, key, step >> {BLOCK_SHIFT}, min(step), "
            f"max(step), min(timestamp), max(timestamp), min(value) {finite}, "
            f"max(value) {finite}, count(*) {finite}, count(*) FILTER (WHERE is_nan = 1) "
            f"FROM new GROUP BY 1, 2, 3 ORDER BY 1, 2, 3{self._sql.block_merge}) "
            + self._sql.latest.replace(
                values,
                latest.format(
                    *range(7, 15),
                    count="COALESCE(c.n, 0)",
                    counts="",
                    n="",
                    join="LEFT JOIN counted c ON c.run_id = l.run_id AND c.key = l.key ",
                ),
            )
        )

    async def apply(self, conn: asyncpg.Connection, event: AnyEvent, pos: int) -> None:
        await self.apply_many(conn, [(event, pos)])

    async def apply_many(
        self, conn: asyncpg.Connection, positioned: list[tuple[AnyEvent, int]]
    ) -> None:
        """Apply several events with one statement per kind of change: the merges are
        order-independent, so grouping them changes nothing but the round trips (a purge
        apart, in log order: ``replay_groups.segments``)."""
        for part in segments(positioned):
            await self._apply_together(conn, part)

    async def _apply_together(
        self, conn: asyncpg.Connection, positioned: list[tuple[AnyEvent, int]]
    ) -> None:
        metrics: list[ch.AddMetrics] = []
        steps: dict[str, list[tuple[object, ...]]] = {}  # in first-seen order
        for event, pos in positioned:
            for change in ch.changes_for(event, pos):
                if isinstance(change, ch.AddMetrics):
                    metrics.append(change)
                    if model_rows := model_metric_rows(change):
                        steps.setdefault(self._sql.model_metric, []).extend(model_rows)
                    continue
                for step in plan(self._sql, change):
                    steps.setdefault(step.sql, []).extend(step.rows)
        if metrics:
            await self._add_metrics(conn, metrics)
        for sql, rows in steps.items():
            if len(rows) == 1:
                await conn.execute(numbered(sql), *rows[0])
            elif rows:
                await conn.executemany(numbered(sql), rows)

    async def _add_metrics(self, conn: asyncpg.Connection, changes: list[ch.AddMetrics]) -> None:
        # A series twice (two events of one run and key) becomes one: one statement cannot
        # merge two rows into one latest row.
        series = merge_series([s for change in changes for s in metric_series(change)])
        history = [row for s in series for row in s.history]
        latest = [list(column) for column in zip(*(s.latest for s in series), strict=True)]
        # A savepoint: a duplicate undoes only this. Plain statements, because the append
        # transaction is not asyncpg's own (postgres_tail.appending).
        await conn.execute("SAVEPOINT new_points")
        try:
            await conn.copy_records_to_table(
                self._history, records=history, columns=_HISTORY_COLUMNS
            )
            await conn.execute(self._counted, *latest, [len(s.history) for s in series])
            blocks = sorted(b for s in series for b in s.blocks)
            await conn.execute(self._blocks, *(list(c) for c in zip(*blocks, strict=True)))
        except asyncpg.UniqueViolationError:
            await conn.execute("ROLLBACK TO SAVEPOINT new_points; RELEASE SAVEPOINT new_points")
            columns = [list(column) for column in zip(*history, strict=True)]
            await conn.execute(self._merging, *columns, *latest)
        else:
            await conn.execute("RELEASE SAVEPOINT new_points")
