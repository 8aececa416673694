"""Events of traces (MLflow 3's tracing): each trace is its own stream, ``trace/<trace_id>``.

A trace is told by
- its info, as the client reports it when the trace ends (``start_trace`` v3) or as the
  legacy v2 API starts and ends it;
- batches of spans: one event per trace per OTLP request, never one per span or attribute;
- tags, assessments (feedback and expectations), links to runs;
- its lifecycle: deleted, restored, and purged after the retention period (a tombstone).

Span attribute values are kept decoded (strings, numbers, booleans, lists, maps), as the
OTLP request carried them; MLflow's JSON-in-a-string encoding is a rendering detail.

``events.py`` gathers these into the ``AnyEvent`` union.
"""

from __future__ import annotations

from typing import Any

import msgspec

from trackledger.eventlog.event_base import Event, Tag

__all__ = [
    "TRACE_EVENTS",
    "AssessmentDeleted",
    "AssessmentRecord",
    "AssessmentSet",
    "SpanEventRecord",
    "SpanLinkRecord",
    "SpanRecord",
    "SpansLogged",
    "TraceDeleted",
    "TraceEvent",
    "TraceInfoLogged",
    "TraceLinkedToRuns",
    "TracePromptsLinked",
    "TracePurged",
    "TraceRestored",
    "TraceTagDeleted",
    "TraceTagSet",
    "trace_stream",
]


def trace_stream(trace_id: str) -> str:
    return f"trace/{trace_id}"


class SpanEventRecord(msgspec.Struct, frozen=True, array_like=True):
    name: str
    time_ns: int
    attributes: dict[str, Any] = {}


class SpanLinkRecord(msgspec.Struct, frozen=True, array_like=True):
    """A link to another span: its OTel trace and span ids as hex."""

    trace_id: str
    span_id: str
    trace_state: str = ""
    attributes: dict[str, Any] = {}


class SpanRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One span. Ids are lowercase hex (span ids 16 digits); times in ns since the epoch;
    ``status`` is the OTLP status code (0 unset, 1 ok, 2 error)."""

    span_id: str
    parent_id: str | None = None
    name: str = ""
    kind: int = 0
    start_ns: int = 0
    end_ns: int | None = None
    status: int = 0
    message: str = ""
    attributes: dict[str, Any] = {}
    events: list[SpanEventRecord] = []
    links: list[SpanLinkRecord] = []
    trace_state: str = ""


class AssessmentRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An assessment as it stands after a create or an update (the whole of it).

    ``kind`` is ``feedback``, ``expectation`` or ``issue``; ``value`` is any JSON value;
    ``error`` holds ``error_code``, ``error_message`` and ``stack_trace`` when present.
    """

    assessment_id: str
    name: str
    kind: str
    create_time: int
    last_update_time: int
    value: Any = None
    error: dict[str, str] | None = None
    rationale: str | None = None
    metadata: dict[str, str] = {}
    source_type: str = "SOURCE_TYPE_UNSPECIFIED"
    source_id: str | None = None
    span_id: str | None = None
    overrides: str | None = None
    valid: bool = True


class TraceEvent(Event, frozen=True, kw_only=True):
    trace_id: str

    @property
    def stream(self) -> str:
        return trace_stream(self.trace_id)


class TraceInfoLogged(TraceEvent, frozen=True, kw_only=True, tag="trace.info_logged"):
    """The trace's info as a client reported it; ``None`` means "not part of this report"
    (the legacy v2 end reports no start time, for one)."""

    experiment_id: str | None = None
    request_time: int | None = None
    execution_duration: int | None = None
    state: str | None = None
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    metadata: list[Tag] = []
    tags: list[Tag] = []
    assessments: list[AssessmentRecord] = []


class SpansLogged(TraceEvent, frozen=True, kw_only=True, tag="trace.spans_logged"):
    """Spans of one trace from one request; ``experiment_id`` is where the sender put them
    and ``tags`` are what the spans say about the trace (where its spans live, its OTel
    resource, ``mlflow.traceTag.*`` attributes of its root span)."""

    experiment_id: str
    spans: list[SpanRecord]
    tags: list[Tag] = []


class TraceTagSet(TraceEvent, frozen=True, kw_only=True, tag="trace.tagged"):
    key: str
    value: str


class TraceTagDeleted(TraceEvent, frozen=True, kw_only=True, tag="trace.untagged"):
    key: str


class AssessmentSet(TraceEvent, frozen=True, kw_only=True, tag="trace.assessment_set"):
    """An assessment was created, or updated (the record is the whole assessment after it)."""

    assessment: AssessmentRecord


class AssessmentDeleted(TraceEvent, frozen=True, kw_only=True, tag="trace.assessment_deleted"):
    assessment_id: str


class TraceLinkedToRuns(TraceEvent, frozen=True, kw_only=True, tag="trace.linked"):
    run_ids: list[str]


class TracePromptsLinked(TraceEvent, frozen=True, kw_only=True, tag="trace.prompts_linked"):
    """Prompt versions (``name/version``) the trace used."""

    prompts: list[str]


class TraceDeleted(TraceEvent, frozen=True, kw_only=True, tag="trace.deleted"):
    time: int


class TraceRestored(TraceEvent, frozen=True, kw_only=True, tag="trace.restored"):
    time: int


class TracePurged(TraceEvent, frozen=True, kw_only=True, tag="trace.purged"):
    """Tombstone: the trace's events and rows were removed for good."""

    time: int
    events_removed: int


TRACE_EVENTS = (
    TraceInfoLogged,
    SpansLogged,
    TraceTagSet,
    TraceTagDeleted,
    AssessmentSet,
    AssessmentDeleted,
    TraceLinkedToRuns,
    TracePromptsLinked,
    TraceDeleted,
    TraceRestored,
    TracePurged,
)
