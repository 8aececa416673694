"""Read queries the web UI needs beyond MLflow's API: run counts, the keys runs carry, and
metric histories downsampled for charts.

Same SQL for every backend, through the read model's ``FetchAll`` port.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from trackledger.projections.sql_reads import FetchAll

__all__ = ["Axis", "Browse", "MetricBucket", "RunCounts", "RunKeys"]

#: Run ids looked up per query when checking that runs exist.
_ID_CHUNK = 500

#: What a chart's x axis measures.
Axis = Literal["step", "timestamp"]


class RunCounts(msgspec.Struct, frozen=True):
    active: int = 0
    deleted: int = 0


class RunKeys(msgspec.Struct, frozen=True):
    """Every param, metric and tag key that the runs of some experiments carry, sorted."""

    params: list[str]
    metrics: list[str]
    tags: list[str]


class MetricBucket(msgspec.Struct, frozen=True):
    """The points of one slice of the x axis: their first step and time, lowest and highest
    value (so no spike is lost), and how many there were. NaN points are counted apart."""

    step: int
    timestamp: int
    min: float
    max: float
    count: int


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Browse:
    def __init__(self, fetchall: FetchAll) -> None:
        self._fetchall = fetchall

    async def run_counts(self, experiment_ids: list[int]) -> dict[str, RunCounts]:
        """Active and deleted runs per experiment (served by the runs_experiment index)."""
        if not experiment_ids:
            return {}
        rows = await self._fetchall(
            "SELECT experiment_id, lifecycle_stage, count(*) FROM runs "
            f"WHERE experiment_id IN ({_marks(len(experiment_ids))}) "
            "GROUP BY experiment_id, lifecycle_stage",
            experiment_ids,
        )
        counts: dict[str, dict[str, int]] = {str(e): {} for e in experiment_ids}
        for exp, stage, n in rows:
            counts[str(exp)][stage] = n
        return {
            exp: RunCounts(active=c.get("active", 0), deleted=c.get("deleted", 0))
            for exp, c in counts.items()
        }

    async def run_keys(self, experiment_ids: list[int]) -> RunKeys:
        if not experiment_ids:
            return RunKeys([], [], [])
        marks = _marks(len(experiment_ids))

        async def keys(table: str, live: str) -> list[str]:
            # Walk the distinct keys along the table's (key, ...) index, one probe each,
            # and keep those that some run of these experiments carries: a few probes per
            # key instead of a join over every row of the experiments' runs.
            rows = await self._fetchall(
                f"WITH RECURSIVE k(key) AS (SELECT min(key) FROM {table} UNION ALL "
                f"SELECT (SELECT min(key) FROM {table} WHERE key > k.key) FROM k "
                "WHERE k.key IS NOT NULL) "
                "SELECT key FROM k WHERE key IS NOT NULL AND EXISTS (SELECT 1 FROM "
                f"{table} t JOIN runs r ON r.run_id = t.run_id WHERE t.key = k.key{live} "
                f"AND r.experiment_id IN ({marks})) ORDER BY key",
                experiment_ids,
            )
            return [row[0] for row in rows]

        return RunKeys(
            params=await keys("params", ""),
            metrics=await keys("latest_metrics", ""),
            tags=await keys("run_tags", " AND t.value IS NOT NULL"),
        )

    async def existing_runs(self, run_ids: list[str]) -> set[str]:
        """Which of ``run_ids`` name a run (deleted ones included)."""
        found: set[str] = set()
        for start in range(0, len(run_ids), _ID_CHUNK):
            chunk = run_ids[start : start + _ID_CHUNK]
            rows = await self._fetchall(
                f"SELECT run_id FROM runs WHERE run_id IN ({_marks(len(chunk))})", chunk
            )
            found.update(row[0] for row in rows)
        return found

    async def metric_buckets(
        self, run_id: str, key: str, *, axis: Axis, buckets: int
    ) -> list[MetricBucket]:
        """One metric's history cut into at most ``buckets`` equal slices of ``axis``, in
        order. Histories no longer than ``buckets`` come back point by point."""
        if axis == "step":
            # Both ends from the (run_id, key, step, ...) key, and the count only as far as
            # telling a short history from a long one: a few index probes, not a scan.
            span = await self._fetchall(
                "SELECT (SELECT count(*) FROM (SELECT 1 FROM metric_history "
                "WHERE run_id = ? AND key = ? LIMIT ?) c), "
                "(SELECT step FROM metric_history WHERE run_id = ? AND key = ? "
                "ORDER BY step LIMIT 1), "
                "(SELECT step FROM metric_history WHERE run_id = ? AND key = ? "
                "ORDER BY step DESC LIMIT 1)",
                (run_id, key, buckets + 1, run_id, key, run_id, key),
            )
        else:
            span = await self._fetchall(
                "SELECT count(*), min(timestamp), max(timestamp) FROM metric_history "
                "WHERE run_id = ? AND key = ?",
                (run_id, key),
            )
        total, low, high = span[0]
        if not total:
            return []
        if total <= buckets:
            rows = await self._fetchall(
                "SELECT step, timestamp, value, value, 1, is_nan FROM metric_history "
                "WHERE run_id = ? AND key = ? ORDER BY step, timestamp, value",
                (run_id, key),
            )
        else:
            # Which of ``buckets`` equal slices of the axis a point falls in, by integer
            # division on both backends (ms times x 10,000 stay far below 2**63).
            rows = await self._fetchall(
                "SELECT min(step), min(timestamp), min(value), max(value), count(*), is_nan "
                f"FROM (SELECT step, timestamp, value, is_nan, ({axis} - ?) * ? / ? AS slot "
                "FROM metric_history WHERE run_id = ? AND key = ?) h "
                "GROUP BY slot, is_nan ORDER BY slot, is_nan",
                (low, buckets, high - low + 1, run_id, key),
            )
        return [
            MetricBucket(step, ts, float("nan") if nan else lo, float("nan") if nan else hi, count)
            for step, ts, lo, hi, count, nan in rows
        ]
