"""Read queries the web UI needs beyond MLflow's API: run counts, the keys runs carry, and
metric histories downsampled for charts; and the histories MLflow's own UI asks for
(``get-history-bulk`` and ``get-history-bulk-interval``).

Same SQL for every backend, through the read model's ``FetchAll`` port.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Literal

import msgspec

from trackledger.projections.sql_reads import FetchAll

__all__ = ["Axis", "Browse", "DatasetSummary", "HistoryPoint", "RunCounts", "RunKeys", "Sampled"]

#: Dataset summaries one request answers at most (as MLflow's SQL store).
MAX_DATASET_SUMMARIES = 1000

#: Run ids looked up per query when checking that runs exist.
_ID_CHUNK = 500

#: Points a request buckets from the history itself before it reads blocks instead.
_RAW_ROWS = 100_000
#: Only histories this many times longer than the buckets asked for are read from blocks
#: (so a chart still gets at least buckets / 8 points of them).
_BLOCKS_FROM = 8
_NAN = float("nan")

#: What a chart's x axis measures.
Axis = Literal["step", "timestamp"]


class RunCounts(msgspec.Struct, frozen=True):
    active: int = 0
    deleted: int = 0


class DatasetSummary(msgspec.Struct, frozen=True, omit_defaults=True):
    """A dataset some run of an experiment took as input, with its context tag."""

    experiment_id: str
    name: str
    digest: str
    context: str | None = None


class RunKeys(msgspec.Struct, frozen=True):
    """Every param, metric and tag key that the runs of some experiments carry, sorted."""

    params: list[str]
    metrics: list[str]
    tags: list[str]


class Sampled(msgspec.Struct):
    """A metric's history, sampled: per slice of the x axis its first step and time, lowest
    and highest value (so no spike is lost), and how many points there were, as columns.
    NaN points are counted apart, in a bucket of their own after the slice's numbers."""

    step: list[int] = msgspec.field(default_factory=list)
    timestamp: list[int] = msgspec.field(default_factory=list)
    min: list[float] = msgspec.field(default_factory=list)
    max: list[float] = msgspec.field(default_factory=list)
    count: list[int] = msgspec.field(default_factory=list)

    def add(self, step: int, timestamp: int, low: float, high: float, count: int) -> None:
        self.step.append(step)
        self.timestamp.append(timestamp)
        self.min.append(low)
        self.max.append(high)
        self.count.append(count)


class HistoryPoint(msgspec.Struct, frozen=True, array_like=True):
    run_id: str
    step: int
    timestamp: int
    value: float


#: A metric's history in MLflow's order for sampling (is_nan last: NaN is stored as 0).
_BY_STEP = "step, timestamp, value, is_nan"


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

    async def dataset_summaries(self, experiment_ids: list[int]) -> list[DatasetSummary]:
        """Each dataset the experiments' runs took as input (name, digest and context)
        once, up to ``MAX_DATASET_SUMMARIES``."""
        if not experiment_ids:
            return []
        rows = await self._fetchall(
            "SELECT DISTINCT r.experiment_id, d.name, d.digest, d.context FROM run_datasets d "
            f"JOIN runs r ON r.run_id = d.run_id WHERE r.experiment_id IN "
            f"({_marks(len(experiment_ids))}) "
            "ORDER BY r.experiment_id, d.name, d.digest, d.context LIMIT ?",
            [*experiment_ids, MAX_DATASET_SUMMARIES],
        )
        return [DatasetSummary(str(e), name, digest, context) for e, name, digest, context in rows]

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
        for chunk in _chunked(run_ids):
            rows = await self._fetchall(
                f"SELECT run_id FROM runs WHERE run_id IN ({_marks(len(chunk))})", chunk
            )
            found.update(row[0] for row in rows)
        return found

    async def metric_histories(
        self, run_ids: list[str], key: str, *, axis: Axis, buckets: int
    ) -> dict[str, Sampled]:
        """One metric of each of ``run_ids`` cut into at most ``buckets`` equal slices of
        ``axis``, in order (runs without it have empty columns). Histories no longer than
        ``buckets`` come back point by point; longer ones are bucketed from their points,
        or, when that would read more than ``_RAW_ROWS`` points, the longest are bucketed
        from their blocks of 64 steps (a 64th of the rows; a block falls in one slice)."""
        counts: dict[str, int] = {}
        last_steps: dict[str, int] = {}  # the latest point's step is the highest
        for chunk in _chunked(run_ids):
            rows = await self._fetchall(
                "SELECT run_id, count, step FROM latest_metrics "
                f"WHERE key = ? AND run_id IN ({_marks(len(chunk))})",
                [key, *chunk],
            )
            for run_id, n, step in rows:
                counts[run_id] = n
                last_steps[run_id] = step
        out = {run_id: Sampled() for run_id in run_ids}
        short = [r for r, n in counts.items() if n <= buckets]
        long = {r: n for r, n in counts.items() if n > buckets}
        blocked: list[str] = []
        if sum(long.values()) > _RAW_ROWS:
            blocked = [r for r, n in long.items() if n >= _BLOCKS_FROM * buckets]
            for r in blocked:
                del long[r]
        for chunk in _chunked(short):
            rows = await self._fetchall(
                "SELECT run_id, step, timestamp, value, is_nan FROM metric_history "
                f"WHERE key = ? AND run_id IN ({_marks(len(chunk))}) "
                "ORDER BY run_id, step, timestamp, value, is_nan",
                [key, *chunk],
            )
            for run_id, step, ts, value, nan in rows:
                v = _NAN if nan else value
                out[run_id].add(step, ts, v, v, 1)
        # The fewest columns: rows are many, and each value read costs.
        last = "max_ts" if axis == "timestamp" else "NULL"
        for chunk in _chunked(blocked):
            rows = await self._fetchall(
                f"SELECT run_id, min_step, min_ts, {last}, min_value, max_value, count, "
                f"nan_count FROM metric_blocks WHERE key = ? AND run_id IN "
                f"({_marks(len(chunk))}) ORDER BY run_id, block",
                [key, *chunk],
            )
            for run_id, group in itertools.groupby(rows, key=lambda row: row[0]):
                blocks = list(group)
                if axis == "step":
                    low, high = blocks[0][1], last_steps[run_id]
                else:
                    low, high = min(b[2] for b in blocks), max(b[3] for b in blocks)
                out[run_id] = _from_blocks(blocks, 1 if axis == "step" else 2, low, high, buckets)
        runs = list(long)
        bucketed = await asyncio.gather(*(self._bucketed(r, key, axis, buckets) for r in runs))
        out.update(zip(runs, bucketed, strict=True))
        return out

    async def history_bulk(self, run_ids: list[str], key: str, limit: int) -> list[HistoryPoint]:
        """Every point of ``key`` in ``run_ids``, by run id, then time, step and value (as
        MLflow's get-history-bulk), the first ``limit``."""
        rows = await self._fetchall(
            "SELECT run_id, step, timestamp, value, is_nan FROM metric_history "
            f"WHERE key = ? AND run_id IN ({_marks(len(run_ids))}) "
            "ORDER BY run_id, timestamp, step, value, is_nan LIMIT ?",
            [key, *run_ids, limit],
        )
        return [_point(row) for row in rows]

    async def history_sampled(
        self, run_id: str, key: str, most: int, steps: tuple[int, int] | None
    ) -> list[HistoryPoint]:
        """At most ``most`` points of a run's ``key`` (within ``steps``, both ends
        included), as MLflow's get-history-bulk-interval samples them: the history in step
        order cut into ``most`` tiles (SQL's NTILE), the first point of each, and the last
        point of all in place of the last one taken (or after it, while fewer)."""
        where = "run_id = ? AND key = ?" + (" AND step BETWEEN ? AND ?" if steps else "")
        params: list[object] = [run_id, key, *(steps or ())]
        rows = await self._fetchall(
            f"SELECT run_id, step, timestamp, value, is_nan FROM (SELECT *, ROW_NUMBER() "
            f"OVER (PARTITION BY tile ORDER BY {_BY_STEP}) AS n FROM (SELECT run_id, "
            f"{_BY_STEP}, NTILE(?) OVER (ORDER BY {_BY_STEP}) AS tile FROM metric_history "
            f"WHERE {where}) t) r WHERE n = 1 ORDER BY {_BY_STEP}",
            [most, *params],
        )
        last = await self._fetchall(
            f"SELECT run_id, step, timestamp, value, is_nan FROM metric_history WHERE {where} "
            "ORDER BY step DESC, timestamp DESC, value DESC, is_nan DESC LIMIT 1",
            params,
        )
        points = [_point(row) for row in rows]
        if last and (not rows or tuple(rows[-1]) != tuple(last[0])):
            if len(points) >= most:
                points[-1] = _point(last[0])
            else:
                points.append(_point(last[0]))
        return points

    async def _bucketed(self, run_id: str, key: str, axis: Axis, buckets: int) -> Sampled:
        """One history longer than ``buckets``, bucketed from its points."""
        if axis == "step":
            # Both ends from the (run_id, key, step, ...) key: two index probes, not a scan.
            span = await self._fetchall(
                "SELECT (SELECT step FROM metric_history WHERE run_id = ? AND key = ? "
                "ORDER BY step LIMIT 1), "
                "(SELECT step FROM metric_history WHERE run_id = ? AND key = ? "
                "ORDER BY step DESC LIMIT 1)",
                (run_id, key, run_id, key),
            )
        else:
            span = await self._fetchall(
                "SELECT min(timestamp), max(timestamp) FROM metric_history "
                "WHERE run_id = ? AND key = ?",
                (run_id, key),
            )
        low, high = span[0]
        # Which of ``buckets`` equal slices of the axis a point falls in, by integer
        # division on both backends (ms times x 10,000 stay far below 2**63).
        rows = await self._fetchall(
            "SELECT min(step), min(timestamp), min(value), max(value), count(*), is_nan "
            f"FROM (SELECT step, timestamp, value, is_nan, ({axis} - ?) * ? / ? AS slot "
            "FROM metric_history WHERE run_id = ? AND key = ?) h "
            "GROUP BY slot, is_nan ORDER BY slot, is_nan",
            (low, buckets, high - low + 1, run_id, key),
        )
        out = Sampled()
        for step, ts, lo, hi, count, nan in rows:
            out.add(step, ts, _NAN if nan else lo, _NAN if nan else hi, count)
        return out


def _point(row: tuple[Any, ...]) -> HistoryPoint:
    run_id, step, timestamp, value, is_nan = row
    return HistoryPoint(run_id, step, timestamp, _NAN if is_nan else value)


def _chunked(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + _ID_CHUNK] for i in range(0, len(ids), _ID_CHUNK)]


def _from_blocks(
    blocks: list[tuple[Any, ...]], at: int, low: int, high: int, buckets: int
) -> Sampled:
    """Bucket a history from its blocks (run_id, min_step, min_ts, max_ts or None,
    min_value, max_value, count, nan_count), in block order, between ``low`` and ``high`` of
    the axis at column ``at``: each block falls in the slice of its first step (or time);
    its NaN points make that slice's NaN bucket."""
    span = high - low + 1
    slots = [(b[at] - low) * buckets // span for b in blocks]
    numbers_only = all(b[6] and not b[7] for b in blocks)
    if numbers_only and all(a < b for a, b in itertools.pairwise(slots)):
        # The usual case: each block a slice of its own, in order, all numbers.
        return Sampled(
            [b[1] for b in blocks],
            [b[2] for b in blocks],
            [b[4] for b in blocks],
            [b[5] for b in blocks],
            [b[6] for b in blocks],
        )
    finite: dict[int, list[Any]] = {}
    nans: dict[int, list[int]] = {}
    for slot, b in zip(slots, blocks, strict=True):
        if b[6]:
            f = finite.get(slot)
            if f is None:
                finite[slot] = [b[1], b[2], b[4], b[5], b[6]]
            else:
                f[0], f[1] = min(f[0], b[1]), min(f[1], b[2])
                f[2], f[3] = min(f[2], b[4]), max(f[3], b[5])
                f[4] += b[6]
        if b[7]:
            n = nans.get(slot)
            if n is None:
                nans[slot] = [b[1], b[2], b[7]]
            else:
                n[0], n[1], n[2] = min(n[0], b[1]), min(n[1], b[2]), n[2] + b[7]
    out = Sampled()
    for slot in sorted(finite.keys() | nans.keys()):
        if (f := finite.get(slot)) is not None:
            out.add(*f)
        if (n := nans.get(slot)) is not None:
            out.add(n[0], n[1], _NAN, _NAN, n[2])
    return out
