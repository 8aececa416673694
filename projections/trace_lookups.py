"""Answer trace decisions' lookups from the read model (see ``sql_lookups.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from trackledger.eventlog import trace_lookups as q
from trackledger.eventlog.trace_events import AssessmentRecord

__all__ = ["trace_lookup_query"]

Rows = list[tuple[Any, ...]]
_record = msgspec.json.Decoder(AssessmentRecord)


def _marks(n: int) -> str:
    return ",".join("?" * n) or "NULL"


def _traces(rows: Rows) -> dict[str, q.TraceRow]:
    return {
        row[0]: q.TraceRow(
            trace_id=row[0],
            experiment_id=str(row[1]) if row[1] is not None else None,
            request_time=row[2],
            lifecycle_stage=row[3],
            deleted_time=row[4],
        )
        for row in rows
    }


def _ids(rows: Rows) -> list[str]:
    return [row[0] for row in rows]


def _assessment(rows: Rows) -> AssessmentRecord | None:
    if not rows or rows[0][0] is None:
        return None
    return _record.decode(rows[0][0])


def trace_lookup_query(
    lookup: q.TraceLookup, dialect: str
) -> tuple[str, tuple[Any, ...], Callable[[Rows], Any]]:
    """(SQL with ``?`` placeholders, parameters, conversion of the rows)."""
    match lookup:
        case q.GetTraces():
            ids = tuple(lookup.trace_ids)
            marks = _marks(len(ids))
            return (
                "SELECT trace_id, experiment_id, timestamp_ms, stage, deleted_time FROM traces "
                f"WHERE trace_id IN ({marks}) UNION ALL SELECT trace_id, NULL, NULL, 'purged', "
                f"purged_time FROM purged_traces WHERE trace_id IN ({marks})",
                ids + ids,
                _traces,
            )
        case q.GetTraceTags():
            return (
                "SELECT key, value FROM trace_tags WHERE trace_id = ? "
                f"AND key IN ({_marks(len(lookup.keys))}) AND value IS NOT NULL",
                (lookup.trace_id, *lookup.keys),
                lambda rows: {row[0]: row[1] for row in rows},
            )
        case q.GetTracesBefore():
            return (
                "SELECT trace_id FROM traces WHERE experiment_id = ? AND stage = 'active' "
                "AND timestamp_ms <= ? ORDER BY timestamp_ms, trace_id LIMIT ?",
                (int(lookup.experiment_id), lookup.max_time, lookup.limit),
                _ids,
            )
        case q.GetAssessment():
            return (
                "SELECT record FROM trace_assessments WHERE trace_id = ? AND assessment_id = ? "
                "AND deleted_pos = 0",
                (lookup.trace_id, lookup.assessment_id),
                _assessment,
            )
        case q.GetExpiredTraces():
            return (
                "SELECT trace_id FROM traces WHERE stage = 'deleted' AND deleted_time <= ? "
                "ORDER BY deleted_time, trace_id LIMIT ?",
                (lookup.cutoff, lookup.limit),
                _ids,
            )
        case q.GetExperimentTraces():
            return (
                "SELECT trace_id FROM traces WHERE experiment_id = ? ORDER BY trace_id",
                (int(lookup.experiment_id),),
                _ids,
            )
    raise TypeError(f"unknown lookup {lookup!r}")
