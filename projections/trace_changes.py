"""The row changes trace events make (see ``changes.py``), merged in any order:

- a trace's info fields: last writer wins, each guarded by the log position that wrote it;
- what spans say about their trace: the earliest start and the latest end (LEAST and
  GREATEST), the root span's name, status and previews (guarded by position), and the
  experiment of the first batch (the lowest position wins);
- the effective start, duration, state and experiment are derived from both in the table
  (generated columns): the client's info wins, and a state the client left open
  (IN_PROGRESS, unspecified) takes the root span's status;
- spans, tags, metadata and assessments: last writer wins per key, deletes write
  positioned tombstones (a deleted assessment stays deleted);
- links to runs: insert if absent; a purge removes every row of the trace.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from trackledger.eventlog import trace_events as te
from trackledger.eventlog.events import Tag

__all__ = [
    "TRACE_CHANGES",
    "AddSpans",
    "AnyTraceChange",
    "DeleteTraceAssessment",
    "LinkTracePrompts",
    "LinkTraceRuns",
    "PurgeTrace",
    "RootSpan",
    "SetTrace",
    "SetTraceAssessment",
    "SetTraceMetadata",
    "SetTraceTags",
    "preview",
    "trace_changes_for",
]

PREVIEW_LENGTH = 1000
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
SPAN_TYPE = "mlflow.spanType"
SPAN_STATUSES = {0: "UNSET", 1: "OK", 2: "ERROR"}


class RootSpan(msgspec.Struct, frozen=True, kw_only=True):
    span_id: str
    name: str
    status: str
    request_preview: str | None = None
    response_preview: str | None = None


class SetTrace(msgspec.Struct, frozen=True, kw_only=True):
    """Trace fields; ``None`` leaves a field alone."""

    trace_id: str
    pos: int
    info_experiment_id: int | None = None
    request_time: int | None = None
    duration: int | None = None
    state: str | None = None
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    span_experiment_id: int | None = None
    span_start_ms: int | None = None
    span_end_ms: int | None = None
    root: RootSpan | None = None
    lifecycle: str | None = None
    deleted_time: int | None = None


class SetTraceTags(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    pos: int
    tags: list[tuple[str, str | None]]


class SetTraceMetadata(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    pos: int
    items: list[tuple[str, str]]


class AddSpans(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    pos: int
    spans: list[te.SpanRecord]


class SetTraceAssessment(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    pos: int
    record: te.AssessmentRecord


class DeleteTraceAssessment(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    pos: int
    assessment_id: str


class LinkTraceRuns(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    run_ids: list[str]


class LinkTracePrompts(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    prompts: list[str]


class PurgeTrace(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    pos: int
    time: int


AnyTraceChange = (
    SetTrace
    | SetTraceTags
    | SetTraceMetadata
    | AddSpans
    | SetTraceAssessment
    | DeleteTraceAssessment
    | LinkTraceRuns
    | LinkTracePrompts
    | PurgeTrace
)

TRACE_CHANGES = (
    SetTrace,
    SetTraceTags,
    SetTraceMetadata,
    AddSpans,
    SetTraceAssessment,
    DeleteTraceAssessment,
    LinkTraceRuns,
    LinkTracePrompts,
    PurgeTrace,
)


def preview(value: Any) -> str:
    """A trace's request or response preview from its root span's inputs or outputs: the
    JSON text, cut to 1000 characters (MLflow's rule, without its chat-message parsing)."""
    text = json.dumps(value, default=str)
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 3] + "..."


def _root(span: te.SpanRecord) -> RootSpan:
    attributes = span.attributes
    return RootSpan(
        span_id=span.span_id,
        name=span.name,
        # MLflow's rule: an ERROR root span fails the trace, anything else completes it.
        status="ERROR" if span.status == 2 else "OK",
        request_preview=preview(attributes[SPAN_INPUTS]) if SPAN_INPUTS in attributes else None,
        response_preview=(
            preview(attributes[SPAN_OUTPUTS]) if SPAN_OUTPUTS in attributes else None
        ),
    )


def _spans(event: te.SpansLogged, pos: int) -> list[AnyTraceChange]:
    spans = list({s.span_id: s for s in event.spans}.values())
    ends = [s.end_ns for s in spans if s.end_ns]
    roots = [s for s in spans if s.parent_id is None]
    return [
        SetTrace(
            trace_id=event.trace_id,
            pos=pos,
            span_experiment_id=int(event.experiment_id),
            span_start_ms=min(s.start_ns for s in spans) // 1_000_000 if spans else None,
            span_end_ms=max(ends) // 1_000_000 if ends else None,
            root=_root(roots[-1]) if roots else None,
        ),
        AddSpans(trace_id=event.trace_id, pos=pos, spans=spans),
        SetTraceTags(trace_id=event.trace_id, pos=pos, tags=_pairs(event.tags)),
    ]


def _pairs(tags: list[Tag]) -> list[tuple[str, str | None]]:
    return list({t.key: t.value for t in tags}.items())


def _info(event: te.TraceInfoLogged, pos: int) -> list[AnyTraceChange]:
    out: list[AnyTraceChange] = [
        SetTrace(
            trace_id=event.trace_id,
            pos=pos,
            info_experiment_id=(
                int(event.experiment_id) if event.experiment_id is not None else None
            ),
            request_time=event.request_time,
            duration=event.execution_duration,
            state=event.state,
            client_request_id=event.client_request_id,
            request_preview=event.request_preview,
            response_preview=event.response_preview,
        )
    ]
    if event.tags:
        out.append(SetTraceTags(trace_id=event.trace_id, pos=pos, tags=_pairs(event.tags)))
    if event.metadata:
        items = list({m.key: m.value for m in event.metadata}.items())
        out.append(SetTraceMetadata(trace_id=event.trace_id, pos=pos, items=items))
    out.extend(
        SetTraceAssessment(trace_id=event.trace_id, pos=pos, record=a) for a in event.assessments
    )
    return out


def trace_changes_for(event: te.TraceEvent, pos: int) -> list[AnyTraceChange]:
    """The row changes the trace ``event`` at log position ``pos`` makes."""
    match event:
        case te.TraceInfoLogged():
            return _info(event, pos)
        case te.SpansLogged():
            return _spans(event, pos)
        case te.TraceTagSet():
            return [SetTraceTags(trace_id=event.trace_id, pos=pos, tags=[(event.key, event.value)])]
        case te.TraceTagDeleted():
            return [SetTraceTags(trace_id=event.trace_id, pos=pos, tags=[(event.key, None)])]
        case te.AssessmentSet():
            return [SetTraceAssessment(trace_id=event.trace_id, pos=pos, record=event.assessment)]
        case te.AssessmentDeleted():
            return [
                DeleteTraceAssessment(
                    trace_id=event.trace_id, pos=pos, assessment_id=event.assessment_id
                )
            ]
        case te.TraceLinkedToRuns():
            return [LinkTraceRuns(trace_id=event.trace_id, run_ids=event.run_ids)]
        case te.TracePromptsLinked():
            return [LinkTracePrompts(trace_id=event.trace_id, prompts=event.prompts)]
        case te.TraceDeleted():
            return [
                SetTrace(
                    trace_id=event.trace_id, pos=pos, lifecycle="deleted", deleted_time=event.time
                )
            ]
        case te.TraceRestored():
            return [SetTrace(trace_id=event.trace_id, pos=pos, lifecycle="active")]
        case te.TracePurged():
            return [PurgeTrace(trace_id=event.trace_id, pos=pos, time=event.time)]
    raise TypeError(f"no projection for event {type(event).__name__}")
