"""Commands of the trace API (see ``commands.py``): plain data as the API decoded it."""

from __future__ import annotations

from typing import Any

import msgspec

from trackledger.eventlog.command_base import Command, TagIn
from trackledger.eventlog.trace_events import SpanRecord

__all__ = [
    "AnyTraceCommand",
    "AssessmentIn",
    "CreateAssessment",
    "DeleteAssessment",
    "DeleteTraceTag",
    "DeleteTraces",
    "EndTraceV2",
    "LinkPromptsToTrace",
    "LinkTracesToRun",
    "LogSpans",
    "RestoreTraces",
    "SetTraceTag",
    "SpanBatch",
    "StartTrace",
    "StartTraceV2",
    "UpdateAssessment",
]


class AssessmentIn(msgspec.Struct, frozen=True, kw_only=True):
    """An assessment as a request gave it; ``kind`` says which value it carries
    (``feedback``, ``expectation`` or ``issue``), None when it carries none."""

    assessment_id: str | None = None
    name: str | None = None
    kind: str | None = None
    value: Any = None
    error: dict[str, str] | None = None
    rationale: str | None = None
    metadata: dict[str, str] = {}
    source_type: str | None = None
    source_id: str | None = None
    span_id: str | None = None
    overrides: str | None = None
    valid: bool | None = None
    create_time: int | None = None
    last_update_time: int | None = None


class StartTrace(Command, frozen=True, kw_only=True, tag="start_trace"):
    """MLflow 3's StartTraceV3: the client reports a finished (or failed) trace."""

    trace_id: str
    experiment_id: str
    request_time: int
    execution_duration: int | None = None
    state: str = "STATE_UNSPECIFIED"
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    metadata: list[TagIn] = []
    tags: list[TagIn] = []
    assessments: list[AssessmentIn] = []


class StartTraceV2(Command, frozen=True, kw_only=True, tag="start_trace_v2"):
    experiment_id: str
    timestamp_ms: int | None = None
    metadata: list[TagIn] = []
    tags: list[TagIn] = []


class EndTraceV2(Command, frozen=True, kw_only=True, tag="end_trace_v2"):
    trace_id: str
    timestamp_ms: int | None = None
    state: str | None = None
    metadata: list[TagIn] = []
    tags: list[TagIn] = []


class SpanBatch(msgspec.Struct, frozen=True, kw_only=True):
    """The spans of one trace in a request, with the OTel resource that sent them."""

    trace_id: str
    spans: list[SpanRecord]
    resource: dict[str, Any] = {}


class LogSpans(Command, frozen=True, kw_only=True, tag="log_spans"):
    """Spans from the OTLP endpoint; ``run_id`` (a header) links finished traces to a run."""

    experiment_id: str
    batches: list[SpanBatch]
    run_id: str | None = None


class SetTraceTag(Command, frozen=True, kw_only=True, tag="set_trace_tag"):
    trace_id: str
    key: str | None
    value: str | None = None


class DeleteTraceTag(Command, frozen=True, kw_only=True, tag="delete_trace_tag"):
    trace_id: str
    key: str | None


class DeleteTraces(Command, frozen=True, kw_only=True, tag="delete_traces"):
    """By ids, or those started at or before ``max_timestamp_millis`` (oldest first, at
    most ``max_traces``)."""

    experiment_id: str
    max_timestamp_millis: int | None = None
    max_traces: int | None = None
    trace_ids: list[str] = []


class RestoreTraces(Command, frozen=True, kw_only=True, tag="restore_traces"):
    trace_ids: list[str]


class LinkTracesToRun(Command, frozen=True, kw_only=True, tag="link_traces_to_run"):
    trace_ids: list[str]
    run_id: str


class LinkPromptsToTrace(Command, frozen=True, kw_only=True, tag="link_prompts_to_trace"):
    trace_id: str
    prompts: list[str]


class CreateAssessment(Command, frozen=True, kw_only=True, tag="create_assessment"):
    trace_id: str
    assessment: AssessmentIn


class UpdateAssessment(Command, frozen=True, kw_only=True, tag="update_assessment"):
    """Only the named fields change: ``fields`` lists which of name, value (with ``kind``),
    rationale and metadata the request's update mask covered."""

    trace_id: str
    assessment_id: str
    fields: list[str]
    name: str | None = None
    kind: str | None = None
    value: Any = None
    error: dict[str, str] | None = None
    rationale: str | None = None
    metadata: dict[str, str] = {}


class DeleteAssessment(Command, frozen=True, kw_only=True, tag="delete_assessment"):
    trace_id: str
    assessment_id: str


AnyTraceCommand = (
    StartTrace
    | StartTraceV2
    | EndTraceV2
    | LogSpans
    | SetTraceTag
    | DeleteTraceTag
    | DeleteTraces
    | RestoreTraces
    | LinkTracesToRun
    | LinkPromptsToTrace
    | CreateAssessment
    | UpdateAssessment
    | DeleteAssessment
)
