"""The order-independent merges of trace changes, as SQL and rows (see ``merge.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec

from trackledger.projections import trace_changes as tc
from trackledger.projections.trace_schema import INFO_FIELDS, TRACE_TABLES

__all__ = ["TraceStatements", "trace_plan", "trace_statements"]

_json = msgspec.json.Encoder()

_INFO_SET = ",\n    ".join(
    f"{f} = CASE WHEN excluded.{f}_pos > t.{f}_pos THEN excluded.{f} ELSE t.{f} END, "
    f"{f}_pos = {{greatest}}(excluded.{f}_pos, t.{f}_pos)"
    for f, _ in INFO_FIELDS
)
_ROOT = ("root_span_id", "root_name", "root_status", "root_request", "root_response")
_ROOT_SET = ",\n    ".join(
    f"{f} = CASE WHEN excluded.root_pos > t.root_pos THEN excluded.{f} ELSE t.{f} END"
    for f in _ROOT
)
# The first batch of spans (lowest position) names the experiment spans were sent to.
_FIRST_SPANS = (
    "excluded.span_experiment_pos > 0 AND (t.span_experiment_pos = 0 "
    "OR excluded.span_experiment_pos < t.span_experiment_pos)"
)
_TRACE_COLUMNS = [
    "trace_id",
    *(c for f, _ in INFO_FIELDS for c in (f, f"{f}_pos")),
    "span_experiment_id",
    "span_experiment_pos",
    "span_start_ms",
    "span_end_ms",
    *_ROOT,
    "root_pos",
    "lifecycle",
    "deleted_time",
    "lifecycle_pos",
]
_TRACE = f"""
INSERT INTO traces{{s}} AS t ({", ".join(_TRACE_COLUMNS)})
VALUES ({", ".join("?" * len(_TRACE_COLUMNS))})
ON CONFLICT (trace_id) DO UPDATE SET
    {_INFO_SET},
    span_experiment_id = CASE WHEN {_FIRST_SPANS}
        THEN excluded.span_experiment_id ELSE t.span_experiment_id END,
    span_experiment_pos = CASE WHEN {_FIRST_SPANS}
        THEN excluded.span_experiment_pos ELSE t.span_experiment_pos END,
    span_start_ms = {{least}}(COALESCE(excluded.span_start_ms, t.span_start_ms),
        COALESCE(t.span_start_ms, excluded.span_start_ms)),
    span_end_ms = {{greatest}}(COALESCE(excluded.span_end_ms, t.span_end_ms),
        COALESCE(t.span_end_ms, excluded.span_end_ms)),
    {_ROOT_SET},
    root_pos = {{greatest}}(excluded.root_pos, t.root_pos),
    lifecycle = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.lifecycle ELSE t.lifecycle END,
    deleted_time = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.deleted_time ELSE t.deleted_time END,
    lifecycle_pos = {{greatest}}(excluded.lifecycle_pos, t.lifecycle_pos)
"""

_KEY_VALUE = """
INSERT INTO {table}{s} AS t (trace_id, key, value, pos) VALUES (?, ?, ?, ?)
ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value, pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_SPAN = """
INSERT INTO trace_spans{s} AS t (trace_id, span_id, parent_span_id, name, span_type, status,
    start_ns, end_ns, content, pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (trace_id, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id,
    name = excluded.name, span_type = excluded.span_type, status = excluded.status,
    start_ns = excluded.start_ns, end_ns = excluded.end_ns, content = excluded.content,
    pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_ASSESSMENT = """
INSERT INTO trace_assessments{s} AS t (trace_id, assessment_id, name, kind, value,
    num_value, overrides, record, create_time, pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (trace_id, assessment_id) DO UPDATE SET name = excluded.name,
    kind = excluded.kind, value = excluded.value, num_value = excluded.num_value,
    overrides = excluded.overrides,
    record = excluded.record, create_time = excluded.create_time, pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_ASSESSMENT_DELETED = """
INSERT INTO trace_assessments{s} AS t (trace_id, assessment_id, deleted_pos) VALUES (?, ?, ?)
ON CONFLICT (trace_id, assessment_id) DO UPDATE SET
    deleted_pos = {greatest}(t.deleted_pos, excluded.deleted_pos)
"""

_LINK = "INSERT INTO trace_run_links{s} (trace_id, run_id) VALUES (?, ?) ON CONFLICT DO NOTHING"

_PROMPT = (
    "INSERT INTO trace_prompt_links{s} (trace_id, prompt) VALUES (?, ?) ON CONFLICT DO NOTHING"
)

_PURGED = (
    "INSERT INTO purged_traces{s} (trace_id, purged_time, pos) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)


class TraceStatements(NamedTuple):
    trace: str
    tag: str
    metadata: str
    span: str
    assessment: str
    assessment_deleted: str
    link: str
    prompt: str
    purge: tuple[str, ...]
    purged: str


def trace_statements(functions: dict[str, str], suffix: str) -> TraceStatements:
    f = {**functions, "s": suffix}
    return TraceStatements(
        trace=_TRACE.format(**f),
        tag=_KEY_VALUE.format(table="trace_tags", **f),
        metadata=_KEY_VALUE.format(table="trace_metadata", **f),
        span=_SPAN.format(**f),
        assessment=_ASSESSMENT.format(**f),
        assessment_deleted=_ASSESSMENT_DELETED.format(**f),
        link=_LINK.format(**f),
        prompt=_PROMPT.format(**f),
        purge=tuple(
            f"DELETE FROM {t}{suffix} WHERE trace_id = ?"
            for t in TRACE_TABLES
            if t != "purged_traces"
        ),
        purged=_PURGED.format(**f),
    )


def _guarded(pos: int, value: object) -> int:
    return pos if value is not None else 0


def _trace_row(c: tc.SetTrace) -> tuple[Any, ...]:
    info = (
        c.info_experiment_id,
        c.request_time,
        c.duration,
        c.state,
        c.client_request_id,
        c.request_preview,
        c.response_preview,
    )
    root = c.root
    root_values = (
        (root.span_id, root.name, root.status, root.request_preview, root.response_preview)
        if root is not None
        else (None,) * 5
    )
    return (
        c.trace_id,
        *(x for value in info for x in (value, _guarded(c.pos, value))),
        c.span_experiment_id,
        _guarded(c.pos, c.span_experiment_id),
        c.span_start_ms,
        c.span_end_ms,
        *root_values,
        _guarded(c.pos, root),
        c.lifecycle,
        c.deleted_time,
        _guarded(c.pos, c.lifecycle),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def span_content(span: Any) -> str:
    """A span as stored: its record as JSON (text searches read it too)."""
    return _json.encode(span).decode()


def _span_row(trace_id: str, pos: int, span: Any) -> tuple[Any, ...]:
    span_type = span.attributes.get(tc.SPAN_TYPE)
    return (
        trace_id,
        span.span_id,
        span.parent_id,
        span.name,
        span_type if isinstance(span_type, str) else None,
        tc.SPAN_STATUSES.get(span.status, "UNSET"),
        span.start_ns,
        span.end_ns,
        span_content(span),
        pos,
    )


def trace_plan(sql: TraceStatements, change: tc.AnyTraceChange) -> Iterator[tuple[str, list[Any]]]:
    """The statements a trace change runs, with their rows."""
    match change:
        case tc.SetTrace():
            yield sql.trace, [_trace_row(change)]
        case tc.SetTraceTags():
            yield sql.tag, [(change.trace_id, k, v, change.pos) for k, v in sorted(change.tags)]
        case tc.SetTraceMetadata():
            yield (
                sql.metadata,
                [(change.trace_id, k, v, change.pos) for k, v in sorted(change.items)],
            )
        case tc.AddSpans():
            spans = sorted(change.spans, key=lambda s: s.span_id)
            yield sql.span, [_span_row(change.trace_id, change.pos, s) for s in spans]
        case tc.SetTraceAssessment():
            r = change.record
            row = (
                change.trace_id,
                r.assessment_id,
                r.name,
                r.kind,
                r.value if isinstance(r.value, str) else json.dumps(r.value),
                _number(r.value),
                r.overrides,
                _json.encode(r).decode(),
                r.create_time,
                change.pos,
            )
            yield sql.assessment, [row]
        case tc.DeleteTraceAssessment():
            yield sql.assessment_deleted, [(change.trace_id, change.assessment_id, change.pos)]
        case tc.LinkTraceRuns():
            yield sql.link, [(change.trace_id, run_id) for run_id in sorted(set(change.run_ids))]
        case tc.LinkTracePrompts():
            yield sql.prompt, [(change.trace_id, p) for p in sorted(set(change.prompts))]
        case tc.PurgeTrace():
            # Tombstones win: whatever order events arrive in, a purged trace has no rows.
            for statement in sql.purge:
                yield statement, [(change.trace_id,)]
            yield sql.purged, [(change.trace_id, change.time, change.pos)]
