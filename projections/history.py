"""Events as people read them: what changed, with metric batches summarized."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import msgspec

from trackledger.eventlog import events as e
from trackledger.eventlog.auth_events import SECRET_FIELDS
from trackledger.eventlog.store import StoredEvent
from trackledger.eventlog.trace_events import SpansLogged

__all__ = ["describe", "summary"]


def _number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _metrics(points: list[e.MetricPoint], expand: bool) -> dict[str, Any]:
    if expand:
        return {
            "points": [
                {"key": m.key, "value": _number(m.value), "timestamp": m.timestamp, "step": m.step}
                for m in points
            ]
        }
    keys = Counter(m.key for m in points)
    steps = [m.step for m in points]
    return {
        "count": len(points),
        "keys": dict(sorted(keys.items())),
        "steps": [min(steps), max(steps)] if steps else [],
    }


def describe(stored: StoredEvent, expand: bool = False) -> dict[str, Any]:
    """The event's data as JSON-ready values; metric points are counted per key unless
    ``expand`` lists them."""
    event = stored.event
    data: dict[str, Any] = msgspec.to_builtins(event)
    data.pop("type", None)
    for name in SECRET_FIELDS.intersection(data):
        data[name] = "(hidden)"  # a hash of a password or token: in the log, never shown
    if isinstance(event, (e.MetricsLogged, e.BatchLogged)) and event.metrics:
        data["metrics"] = _metrics(event.metrics, expand)
    if isinstance(event, SpansLogged) and not expand:
        data["spans"] = {"count": len(event.spans), "names": [s.name for s in event.spans[:20]]}
    for name in ("params", "tags"):
        if isinstance(data.get(name), list):
            data[name] = {pair[0]: pair[1] for pair in data[name]}
    return {
        "position": stored.position,
        "time": stored.recorded_at,
        "actor": stored.actor,
        "type": stored.type,
        "data": data,
    }


def summary(stored: StoredEvent) -> str:  # noqa: C901 - one case per kind of event
    """One line for a terminal table."""
    event = stored.event
    parts = []
    if isinstance(event, (e.MetricsLogged, e.BatchLogged)) and event.metrics:
        keys = sorted({m.key for m in event.metrics})
        parts.append(
            f"{len(event.metrics)} points of {', '.join(keys[:4])}"
            + (" ..." if len(keys) > 4 else "")
        )
    if isinstance(event, (e.ParamsLogged, e.BatchLogged)) and event.params:
        parts.append(", ".join(f"{p.key}={p.value}" for p in event.params[:4]))
    if isinstance(event, (e.RunTagged, e.BatchLogged)) and event.tags:
        parts.append(", ".join(f"{t.key}={t.value}" for t in event.tags[:4]))
    if isinstance(event, e.RunUpdated):
        changed = {"status": event.status, "end_time": event.end_time, "run_name": event.run_name}
        parts.append(", ".join(f"{k}={v}" for k, v in changed.items() if v is not None))
    if isinstance(event, e.RunCreated):
        parts.append(f"name={event.run_name} experiment={event.experiment_id}")
    if isinstance(event, (e.RunDeleted,)) and event.cascade:
        parts.append(f"with {event.cascade}")
    if isinstance(event, (e.RunPurged, e.ExperimentPurged)):
        parts.append(f"{event.events_removed} events removed")
    if isinstance(event, (e.RunTagDeleted, e.ExperimentTagDeleted)):
        parts.append(event.key)
    if isinstance(event, e.ExperimentTagSet):
        parts.append(f"{event.key}={event.value}")
    if isinstance(event, SpansLogged):
        parts.append(f"{len(event.spans)} spans")
    if isinstance(event, (e.ExperimentCreated, e.ExperimentRenamed)):
        parts.append(f"name={event.name}")
    if isinstance(event, e.IMPORT_MARKERS):
        parts.append(f"from {event.source} (id {event.source_id} there)")
    text = "; ".join(p for p in parts if p)
    return text if len(text) <= 100 else text[:97] + "..."
