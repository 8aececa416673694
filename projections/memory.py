"""A run as its own events describe it up to some point: the fold behind "as of" reads.

It reuses ``changes_for`` and applies the same merge rules as the SQL projections, to a
single run held in memory: fields and tags last-writer-wins, params insert-if-absent,
latest metric = max by (step, timestamp, value, is_nan).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from trackledger.eventlog.events import DatasetInput, Param, Tag
from trackledger.eventlog.lookups import RunState
from trackledger.eventlog.store import StoredEvent
from trackledger.projections import changes as ch
from trackledger.projections.views import MetricValue, RunView

__all__ = ["fold_run"]


def _rank(m: MetricValue) -> tuple[int, int, float, int]:
    nan = math.isnan(m.value)
    return (m.step, m.timestamp, 0.0 if nan else m.value, int(nan))


class _Fold:
    """One run's rows, in memory."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.tags: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.latest: dict[str, MetricValue] = {}
        self.datasets: dict[tuple[str, str], DatasetInput] = {}
        self.models: set[str] = set()
        self.purged = False

    def set_run(self, c: ch.SetRun) -> None:
        for name in ("experiment_id", "user_id", "start_time", "artifact_uri"):
            if getattr(c, name) is not None:
                self.fields.setdefault(name, getattr(c, name))
        for name in ("name", "status", "end_time"):
            if getattr(c, name) is not None:
                self.fields[name] = getattr(c, name)
        if c.lifecycle_stage is not None:
            self.fields["lifecycle_stage"] = c.lifecycle_stage
            self.fields["deleted_time"] = c.deleted_time

    def set_tags(self, c: ch.SetRunTags) -> None:
        for key, value in c.tags:
            if value is None:
                self.tags.pop(key, None)
            else:
                self.tags[key] = value

    def add_metrics(self, c: ch.AddMetrics) -> None:
        for m in c.metrics:
            point = MetricValue(m.key, m.value, m.timestamp, m.step)
            current = self.latest.get(m.key)
            if current is None or _rank(point) > _rank(current):
                self.latest[m.key] = point

    def apply(self, change: ch.AnyChange) -> None:
        match change:
            case ch.SetRun():
                self.set_run(change)
            case ch.SetRunTags():
                self.set_tags(change)
            case ch.AddParams():
                for p in change.params:
                    self.params.setdefault(p.key, p.value)
            case ch.AddMetrics():
                self.add_metrics(change)
            case ch.AddInputs():
                for d in change.datasets:
                    self.datasets.setdefault((d.name, d.digest), d)
                self.models.update(change.model_ids)
            case ch.PurgeRun():
                self.purged = True

    def view(self, run_id: str) -> RunView | None:
        f = self.fields
        if self.purged or "experiment_id" not in f:
            return None
        info = RunState(
            run_id=run_id,
            experiment_id=str(f["experiment_id"]),
            run_name=f.get("name"),
            user_id=f.get("user_id"),
            status=str(f.get("status", "RUNNING")),
            start_time=f.get("start_time"),
            end_time=f.get("end_time"),
            artifact_uri=str(f.get("artifact_uri", "")),
            lifecycle_stage=str(f.get("lifecycle_stage", "active")),
            deleted_time=f.get("deleted_time"),
        )
        return RunView(
            info=info,
            metrics=[self.latest[k] for k in sorted(self.latest)],
            params=[Param(k, self.params[k]) for k in sorted(self.params)],
            tags=[Tag(k, self.tags[k]) for k in sorted(self.tags)],
            datasets=[self.datasets[k] for k in sorted(self.datasets)],
            model_ids=sorted(self.models),
        )


def fold_run(run_id: str, events: Iterable[StoredEvent]) -> RunView | None:
    """The run after ``events`` (its stream, in position order); None if not created yet."""
    fold = _Fold()
    for stored in events:
        for change in ch.changes_for(stored.event, stored.position):
            fold.apply(change)
    return fold.view(run_id)
