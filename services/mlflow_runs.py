"""Turn an MLflow source's runs into trackledger events (see ``mlflow_plan.py``).

A new run becomes: its marker, ``run.created`` at its start time by its user (with the
final status when it has no end time), its params and inputs, its metric points (events
of at most ``POINTS_PER_EVENT`` points, recorded at their last timestamp), its outputs,
``run.updated`` with the final status at its end time, the copied artifact files, and
``run.deleted`` at its deletion time. A run imported before gets only what changed in the
source since (tags, status, lifecycle) and what the source has that trackledger lacks
(points, params, inputs, outputs, files).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trackledger.eventlog import events as e
from trackledger.eventlog.store import StoredEvent
from trackledger.services.mlflow_plan import (
    Import,
    Tally,
    as_tags,
    stored,
    tag_changes,
    tag_dict,
)
from trackledger.services.mlflow_source import Latest, Point, SourceRun
from trackledger.services.mlflow_target import HeldPoint, HeldRun

__all__ = [
    "POINTS_PER_EVENT",
    "RunWork",
    "new_run_events",
    "root_of",
    "run_update_events",
    "series_to_read",
]

#: Metric points per imported event: a run's history in one event up to this size.
POINTS_PER_EVENT = 100_000
PARENT_TAG = "mlflow.parentRunId"
ROOT_TAG = "mlflow.rootRunId"


@dataclass
class RunWork:
    """One source run on its way in: where it goes and what it brings."""

    run: SourceRun
    target_experiment: str
    artifact_uri: str
    held: HeldRun | None = None
    points: list[Point] = field(default_factory=list)
    files: list[e.RunArtifactLogged] = field(default_factory=list)


def root_of(run_id: str, parents: dict[str, str]) -> str | None:
    """The root of a nested run's tree (trackledger's ``mlflow.rootRunId`` tag)."""
    parent = parents.get(run_id)
    if parent is None:
        return None
    seen = {run_id}
    while parent in parents and parent not in seen:
        seen.add(parent)
        parent = parents[parent]
    return parent


def _clamped(ts: int, run: SourceRun, now: int) -> int:
    low = run.start_time or 0
    high = run.end_time if run.end_time is not None else now
    return min(max(ts, low), max(high, low))


def _metric_events(work: RunWork, points: list[Point], now: int) -> list[StoredEvent]:
    run = work.run
    if len(points) > POINTS_PER_EVENT:
        points = sorted(points, key=lambda p: (p[2], p[3], p[0]))
    out = []
    nan = math.nan
    for start in range(0, len(points), POINTS_PER_EVENT):
        chunk = points[start : start + POINTS_PER_EVENT]
        metrics = [
            e.MetricPoint(key, nan if is_nan else value, ts, step)
            for key, value, ts, step, is_nan in chunk
        ]
        last = max(p[2] for p in chunk)
        event = e.MetricsLogged(run_id=run.run_id, metrics=metrics)
        out.append(stored(event, _clamped(last, run, now), run.user_id, now))
    return out


def _marker(run: SourceRun, imp: Import) -> StoredEvent:
    marker = e.RunImported(
        run_id=run.run_id,
        source=imp.source,
        source_id=run.run_id,
        imported_at=imp.imported_at,
        run_name=run.name,
        status=run.status,
        lifecycle_stage=run.lifecycle_stage,
        end_time=run.end_time,
        tags=as_tags(run.tags),
    )
    return stored(marker, run.start_time, imp.importer, imp.imported_at)


def new_run_events(work: RunWork, parents: dict[str, str], imp: Import) -> list[StoredEvent]:
    run, now, actor = work.run, imp.imported_at, work.run.user_id
    tags = dict(run.tags)
    root = root_of(run.run_id, parents)
    if root is not None and ROOT_TAG not in tags:
        tags[ROOT_TAG] = root
    created = e.RunCreated(
        run_id=run.run_id,
        experiment_id=work.target_experiment,
        run_name=run.name,
        user_id=run.user_id,
        start_time=run.start_time if run.start_time is not None else now,
        artifact_uri=work.artifact_uri,
        status=run.status if run.end_time is None else "RUNNING",
        tags=as_tags(tags),
    )
    out = [_marker(run, imp), stored(created, run.start_time, actor, now)]
    if run.params:
        params = [e.Param(k, v) for k, v in sorted(run.params.items())]
        out.append(
            stored(e.ParamsLogged(run_id=run.run_id, params=params), run.start_time, actor, now)
        )
    if run.datasets or run.model_inputs:
        inputs = e.InputsLogged(
            run_id=run.run_id, datasets=run.datasets, model_ids=sorted(set(run.model_inputs))
        )
        out.append(stored(inputs, run.start_time, actor, now))
    out.extend(_metric_events(work, work.points, now))
    finished = run.end_time if run.end_time is not None else run.start_time
    if run.outputs:
        outputs = e.RunOutputsLogged(run_id=run.run_id, models=run.outputs)
        out.append(stored(outputs, finished, actor, now))
    if run.end_time is not None:
        updated = e.RunUpdated(run_id=run.run_id, status=run.status, end_time=run.end_time)
        out.append(stored(updated, run.end_time, actor, now))
    out.extend(stored(f, finished, actor, now) for f in work.files)
    if run.lifecycle_stage == "deleted":
        when = run.deleted_time if run.deleted_time is not None else now
        out.append(stored(e.RunDeleted(run_id=run.run_id, time=when), when, actor, now))
    return out


def _same_latest(a: Latest, b: tuple[int, int, float, int]) -> bool:
    return (
        a[0] == b[0] and a[1] == b[1] and (a[2] == b[2] or (math.isnan(a[2]) and math.isnan(b[2])))
    )


def series_to_read(run: SourceRun, held: HeldRun, counts: dict[str, int] | None) -> list[str]:
    """The metric keys whose history may hold points trackledger lacks.

    With point counts (a database source), a key whose count differs. Without (the REST
    API), a key whose latest point differs, and every key of a run that was still running
    at the last import or whose status or end time changed since.
    """
    if counts is not None:
        return sorted(
            key
            for key, count in counts.items()
            if key not in held.latest or held.latest[key][3] != count
        )
    marker = held.marker
    unsettled = (
        marker is None
        or marker.status == "RUNNING"
        or ((marker.status, marker.end_time) != (run.status, run.end_time))
    )
    return sorted(
        key
        for key, latest in run.latest.items()
        if unsettled or key not in held.latest or not _same_latest(latest, held.latest[key])
    )


def new_points(points: list[Point], held: set[HeldPoint]) -> list[Point]:
    """The source's points that trackledger does not hold (both keep NaN as 0 with is_nan
    set)."""
    return [p for p in points if (p[0], p[3], p[2], p[1], p[4]) not in held]


def run_update_events(work: RunWork, imp: Import, tally: Tally) -> list[StoredEvent]:
    """What changed in the source since the last import, and what it has that is missing
    here; nothing when nothing did."""
    run, held, now, actor = work.run, work.held, imp.imported_at, work.run.user_id
    assert held is not None and held.marker is not None
    base = held.marker
    changes: list[StoredEvent] = []
    changed = {
        name: value
        for name, value, seen, here in (
            ("status", run.status, base.status, held.status),
            ("end_time", run.end_time, base.end_time, held.end_time),
            ("run_name", run.name, base.run_name, held.name),
        )
        if value != seen and value != here and value is not None
    }
    if changed:
        updated = e.RunUpdated(run_id=run.run_id, **changed)  # type: ignore[arg-type]
        when = run.end_time if "end_time" in changed else now
        changes.append(stored(updated, when, actor, now))
    to_set, gone = tag_changes(run.tags, tag_dict(base.tags), held.tags)
    if to_set:
        changes.append(
            stored(e.RunTagged(run_id=run.run_id, tags=as_tags(to_set)), now, actor, now)
        )
        tally.tags += len(to_set)
    changes.extend(stored(e.RunTagDeleted(run_id=run.run_id, key=k), now, actor, now) for k in gone)
    params = {k: v for k, v in run.params.items() if k not in held.params}
    if params:
        logged = e.ParamsLogged(
            run_id=run.run_id, params=[e.Param(k, v) for k, v in sorted(params.items())]
        )
        changes.append(stored(logged, now, actor, now))
        tally.params += len(params)
    datasets = [d for d in run.datasets if (d.name, d.digest) not in held.datasets]
    models = sorted(set(run.model_inputs) - held.model_inputs)
    if datasets or models:
        inputs = e.InputsLogged(run_id=run.run_id, datasets=datasets, model_ids=models)
        changes.append(stored(inputs, now, actor, now))
        tally.datasets += len(datasets)
    changes.extend(_metric_events(work, work.points, now))
    outputs = [o for o in run.outputs if (o.model_id, o.step) not in held.outputs]
    if outputs:
        changes.append(
            stored(e.RunOutputsLogged(run_id=run.run_id, models=outputs), now, actor, now)
        )
    changes.extend(stored(f, now, actor, now) for f in work.files)
    if run.lifecycle_stage != base.lifecycle_stage and run.lifecycle_stage != held.lifecycle_stage:
        if run.lifecycle_stage == "deleted":
            when = run.deleted_time if run.deleted_time is not None else now
            changes.append(stored(e.RunDeleted(run_id=run.run_id, time=when), when, actor, now))
        else:
            changes.append(stored(e.RunRestored(run_id=run.run_id, time=now), now, actor, now))
    same_seen = (
        base.run_name,
        base.status,
        base.lifecycle_stage,
        base.end_time,
        tag_dict(base.tags),
    ) == (run.name, run.status, run.lifecycle_stage, run.end_time, run.tags)
    if not changes and same_seen:
        return []
    return [_marker(run, imp), *changes]
