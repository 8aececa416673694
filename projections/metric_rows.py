"""Metric points as the rows their merges write: each (run, key) series with its history
rows and latest-metrics row, the blocks that sum it up for charts, the rows of points
logged with a model_id, and series merged when one run and key come in several events.
The statements are in ``merge.py``; this runs for every point a server takes in, on the
writer's thread, so it stays plain loops and builtins.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from trackledger.projections import changes as ch

__all__ = [
    "BLOCK_SHIFT",
    "MetricSeries",
    "merge_series",
    "metric_blocks",
    "metric_series",
    "model_metric_rows",
]

#: A metric's history is summed up in blocks of 2**BLOCK_SHIFT steps (block = step >> 6,
#: an arithmetic shift, so negative steps floor as on both databases): a chart of a long
#: history reads a 64th of its rows.
BLOCK_SHIFT = 6


class MetricSeries(NamedTuple):
    """One (run, key) series of a metrics change: its history rows and its aggregates.

    ``latest_row(inserted)`` is the row for the latest-metrics merge once the backend knows
    how many history rows were really new.
    """

    key: str
    history: list[tuple[str, str, int, int, float, int]]
    latest: tuple[str, str, float, int, int, int, float | None, float | None]
    #: The block rows of ``history`` (``metric_blocks``), should every point be new.
    blocks: list[tuple[Any, ...]]

    def latest_row(self, inserted: int) -> tuple[Any, ...]:
        return (*self.latest, inserted)


def metric_series(change: ch.AddMetrics) -> list[MetricSeries]:
    """Group a metrics change by key (sorted, so concurrent writers lock rows in one order).

    NaN is stored as 0 with is_nan set, as MLflow does (SQLite has no NaN). This runs for
    every point a server takes in, on the writer's thread: it stays plain loops.
    """
    run_id = change.run_id
    by_key: dict[str, list[tuple[str, str, int, int, float, int]]] = {}
    for m in change.metrics:
        value = m.value
        if value == value:
            row = (run_id, m.key, m.step, m.timestamp, value, 0)
        else:
            row = (run_id, m.key, m.step, m.timestamp, 0.0, 1)
        rows = by_key.get(m.key)
        if rows is None:
            by_key[m.key] = [row]
        else:
            rows.append(row)
    out = []
    for key in sorted(by_key):
        rows = by_key[key]
        # Rows of one series differ from the step on: the largest is the latest by
        # (step, timestamp, value, is_nan).
        last = max(rows)
        first = min(rows)
        finite = [r[4] for r in rows if not r[5]]
        low, high = (min(finite), max(finite)) if finite else (None, None)
        latest = (run_id, key, last[4], last[3], last[2], last[5], low, high)
        block = first[2] >> BLOCK_SHIFT
        if block == last[2] >> BLOCK_SHIFT:
            # The usual batch: every point in one block, summed up from what is at hand.
            times = [r[3] for r in rows]
            counts = (len(finite), len(rows) - len(finite))
            edges = (first[2], last[2], min(times), max(times), low, high)
            blocks = [(run_id, key, block, *edges, *counts)]
        else:
            blocks = metric_blocks(rows)
        out.append(MetricSeries(key, rows, latest, blocks))
    return out


def metric_blocks(history: list[tuple[str, str, int, int, float, int]]) -> list[tuple[Any, ...]]:
    """The block rows (``BLOCK_COLUMNS``) that sum up ``history`` rows (as ``metric_series``
    makes them), one per (run, key, block), sorted: these must be new points only. On the
    writer's thread for every point: a series' points come together, so the block of the
    point before is looked up again only when the run, key or block changes."""
    blocks: dict[tuple[str, str, int], list[Any]] = {}
    b: list[Any] | None = None
    run, metric, block = "", "", 0
    for run_id, key, step, ts, value, is_nan in history:
        if b is None or step >> BLOCK_SHIFT != block or key != metric or run_id != run:
            run, metric, block = run_id, key, step >> BLOCK_SHIFT
            b = blocks.get((run, metric, block))
            if b is None:
                blocks[run, metric, block] = b = (
                    [step, step, ts, ts, None, None, 0, 1]
                    if is_nan
                    else [step, step, ts, ts, value, value, 1, 0]
                )
                continue
        if step < b[0]:
            b[0] = step
        elif step > b[1]:
            b[1] = step
        if ts < b[2]:
            b[2] = ts
        elif ts > b[3]:
            b[3] = ts
        if is_nan:
            b[7] += 1
        else:
            b[6] += 1
            if b[4] is None or value < b[4]:
                b[4] = value
            if b[5] is None or value > b[5]:
                b[5] = value
    return [(*at, *b) for at, b in sorted(blocks.items())]


def model_metric_rows(change: ch.AddMetrics) -> list[tuple[Any, ...]]:
    """The logged-model metric rows of the points logged with a ``model_id``."""
    rows: list[tuple[Any, ...]] = []
    for m in change.metrics:
        if m.model_id is None:
            continue
        nan = m.value != m.value
        value = 0.0 if nan else m.value
        rows.append(
            (
                m.model_id,
                m.key,
                m.timestamp,
                m.step,
                change.run_id,
                value,
                int(nan),
                m.dataset_name,
                m.dataset_digest,
            )
        )
    return rows


def merge_series(series: list[MetricSeries]) -> list[MetricSeries]:
    """One series per (run, key): the series of several events of one run and key become
    one (their points together, the greatest latest point, the lowest and highest value of
    both), so one statement writes each row once. Order-independent like the merges."""
    merged: dict[tuple[str, str], MetricSeries] = {}
    for s in series:
        at = (s.latest[0], s.key)
        seen = merged.get(at)
        merged[at] = s if seen is None else _merged(seen, s)
    if len(merged) == len(series):
        return series
    return [merged[at] for at in sorted(merged)]


def _merged(a: MetricSeries, b: MetricSeries) -> MetricSeries:
    # latest: (run_id, key, value, timestamp, step, is_nan, low, high); the latest point is
    # the greatest by (step, timestamp, value, is_nan).
    x, y = a.latest, b.latest
    last = x if (x[4], x[3], x[2], x[5]) >= (y[4], y[3], y[2], y[5]) else y
    lows = [v for v in (x[6], y[6]) if v is not None]
    highs = [v for v in (x[7], y[7]) if v is not None]
    low = min(lows) if lows else None
    high = max(highs) if highs else None
    latest = (last[0], last[1], last[2], last[3], last[4], last[5], low, high)
    history = a.history + b.history
    return MetricSeries(a.key, history, latest, metric_blocks(history))
