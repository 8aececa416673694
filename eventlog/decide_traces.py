"""Decisions for traces: their info, spans, tags, links to runs and lifecycle.

MLflow's rules where the client depends on them (its SQL store's ``start_trace``,
``log_spans``, ``delete_traces``, ...). Beyond them, trackledger's lifecycle: a deleted
trace is hidden and refuses writes, can be restored for the retention period, and is then
purged with a tombstone, like a run. A purged trace's id can never be written again (a
tombstone must stay the last event of its stream).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from trackledger.eventlog import validation as v
from trackledger.eventlog.commands import TagIn
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.decide_assessments import assessment_record
from trackledger.eventlog.decide_experiments import active as active_experiment
from trackledger.eventlog.decide_experiments import existing as existing_experiment
from trackledger.eventlog.decide_runs import existing as existing_run
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.eventlog.events import Event, Tag
from trackledger.eventlog.lookups import (
    Ask,
    CountStreamEvents,
    Decision,
    GetRun,
    Outcome,
)
from trackledger.eventlog.results import BulkResult, Nothing, TraceId
from trackledger.eventlog.trace_commands import (
    DeleteTraces,
    DeleteTraceTag,
    EndTraceV2,
    LinkPromptsToTrace,
    LinkTracesToRun,
    LogSpans,
    RestoreTraces,
    SetTraceTag,
    SpanBatch,
    StartTrace,
    StartTraceV2,
)
from trackledger.eventlog.trace_events import (
    SpansLogged,
    TraceDeleted,
    TraceInfoLogged,
    TraceLinkedToRuns,
    TracePromptsLinked,
    TracePurged,
    TraceRestored,
    TraceTagDeleted,
    TraceTagSet,
    trace_stream,
)
from trackledger.eventlog.trace_lookups import (
    GetExperimentTraces,
    GetExpiredTraces,
    GetTraces,
    GetTracesBefore,
    GetTraceTags,
    TraceRow,
)

__all__ = [
    "STATES",
    "delete",
    "delete_tag",
    "end_v2",
    "existing_trace",
    "link_prompts",
    "link_to_run",
    "log_spans",
    "purge_experiment_traces",
    "purge_expired_traces",
    "restore",
    "set_tag",
    "start",
    "start_v2",
]

STATES = ("STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
TRACE_NAME_TAG = "mlflow.traceName"
TRACE_TAG_PREFIX = "mlflow.traceTag."
MAX_TRACE_NAME_LENGTH = 4096
MAX_TRACE_TAG_KEY_LENGTH = 250
MAX_TRACE_TAG_VALUE_LENGTH = 8000
MAX_TRACE_LINKS_PER_REQUEST = 100
_TRACE_ID = re.compile(r"^[A-Za-z0-9][\w.:\-]{0,255}$")


def check_trace_id(trace_id: str, field: str = "trace_id") -> str:
    v.require(trace_id, field)
    if not _TRACE_ID.match(trace_id):
        raise InvalidInput(f"Invalid value {trace_id!r} for parameter '{field}' supplied.")
    return trace_id


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _writable(trace_id: str, row: TraceRow | None) -> None:
    """Refuse writes to a trace that was deleted or purged."""
    if row is None:
        return
    if row.lifecycle_stage == "purged":
        raise InvalidInput(
            f"Trace {trace_id} was purged on {_date(row.deleted_time or 0)}; its id cannot "
            "be used again."
        )
    if row.lifecycle_stage == "deleted":
        raise InvalidInput(f"Trace {trace_id} is deleted; restore it before writing to it.")


def existing_trace(trace_id: str) -> Ask[TraceRow]:
    """An active trace, or NotFound (a deleted or purged trace is gone, as in MLflow)."""
    rows: dict[str, TraceRow] = yield GetTraces([trace_id])
    row = rows.get(trace_id)
    if row is None or row.lifecycle_stage != "active":
        raise NotFound(f"Trace with ID '{trace_id}' not found.")
    return row


def _pairs(items: list[TagIn], what: str, key_limit: int, value_limit: int) -> list[Tag]:
    out: dict[str, Tag] = {}
    for i, item in enumerate(items):
        key = v.require(item.key, f"{what}[{i}].key")
        v.check_length(key, key_limit, f"{what}[{i}].key")
        out[key] = Tag(key, v.truncate(item.value or "", value_limit))
    return list(out.values())


def _tags(items: list[TagIn]) -> list[Tag]:
    tags = _pairs(items, "tags", MAX_TRACE_TAG_KEY_LENGTH, MAX_TRACE_TAG_VALUE_LENGTH)
    for tag in tags:
        if tag.key == TRACE_NAME_TAG:
            v.check_length(tag.value, MAX_TRACE_NAME_LENGTH, "Trace name")
    return tags


def _metadata(items: list[TagIn]) -> list[Tag]:
    # MLflow keeps metadata as given (its client cuts values to 250 characters).
    return _pairs(items, "trace_metadata", MAX_TRACE_TAG_KEY_LENGTH, MAX_TRACE_TAG_VALUE_LENGTH)


def _state(value: str | None, field: str = "state") -> str:
    if value not in STATES:
        raise InvalidInput(
            f"Invalid value {value!r} for parameter '{field}' supplied. It must be one of "
            f"{', '.join(STATES)}."
        )
    return value


def artifact_location(experiment_location: str, trace_id: str) -> str:
    """Where a client that cannot log spans uploads the trace's data (MLflow's layout)."""
    return f"{experiment_location.rstrip('/')}/traces/{trace_id}/artifacts"


def start(cmd: StartTrace, ctx: DecideContext) -> Decision:
    trace_id = check_trace_id(cmd.trace_id)
    state = _state(cmd.state)
    tags, metadata = _tags(cmd.tags), _metadata(cmd.metadata)
    assessments = [
        assessment_record(a, ctx, f"assessments[{i}]") for i, a in enumerate(cmd.assessments)
    ]
    experiment = yield from active_experiment(cmd.experiment_id)
    rows: dict[str, TraceRow] = yield GetTraces([trace_id])
    _writable(trace_id, rows.get(trace_id))
    location = Tag(ARTIFACT_LOCATION_TAG, artifact_location(experiment.artifact_location, trace_id))
    event = TraceInfoLogged(
        trace_id=trace_id,
        experiment_id=experiment.experiment_id,
        request_time=cmd.request_time,
        execution_duration=cmd.execution_duration,
        state=state,
        client_request_id=cmd.client_request_id or None,
        request_preview=cmd.request_preview,
        response_preview=cmd.response_preview,
        metadata=metadata,
        tags=[*tags, location],
        assessments=assessments,
    )
    return Outcome(events=[event], result=TraceId(trace_id=trace_id))


def start_v2(cmd: StartTraceV2, ctx: DecideContext) -> Decision:
    tags, metadata = _tags(cmd.tags), _metadata(cmd.metadata)
    experiment = yield from active_experiment(cmd.experiment_id)
    trace_id = uuid.uuid4().hex
    location = Tag(ARTIFACT_LOCATION_TAG, artifact_location(experiment.artifact_location, trace_id))
    event = TraceInfoLogged(
        trace_id=trace_id,
        experiment_id=experiment.experiment_id,
        request_time=cmd.timestamp_ms or 0,
        state="IN_PROGRESS",
        metadata=metadata,
        tags=[*tags, location],
    )
    return Outcome(events=[event], result=TraceId(trace_id=trace_id))


def end_v2(cmd: EndTraceV2, ctx: DecideContext) -> Decision:
    state = _state(cmd.state, "status")
    tags, metadata = _tags(cmd.tags), _metadata(cmd.metadata)
    trace = yield from existing_trace(cmd.trace_id)
    duration = None
    if cmd.timestamp_ms is not None:
        duration = cmd.timestamp_ms - (trace.request_time or 0)
    event = TraceInfoLogged(
        trace_id=cmd.trace_id,
        execution_duration=duration,
        state=state,
        metadata=metadata,
        tags=tags,
    )
    return Outcome(events=[event], result=TraceId(trace_id=cmd.trace_id))


def _tag_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _span_tags(batch: SpanBatch, new: bool, location: str) -> list[Tag]:
    """What a batch of spans says about its trace, in MLflow's order of precedence."""
    tags: dict[str, str] = {SPANS_LOCATION_TAG: "TRACKING_STORE"}
    if new:
        tags[ARTIFACT_LOCATION_TAG] = artifact_location(location, batch.trace_id)
    for key, value in batch.resource.items():
        # OTel's own SDK details and the reserved mlflow.* names stay out of the tags.
        if key.startswith(("telemetry.sdk.", "mlflow.")) or len(key) > MAX_TRACE_TAG_KEY_LENGTH:
            continue
        tags[key] = v.truncate(_tag_text(value), MAX_TRACE_TAG_VALUE_LENGTH)
    for span in batch.spans:
        if span.parent_id is not None:
            continue
        for key, value in span.attributes.items():
            name = key[len(TRACE_TAG_PREFIX) :]
            if key.startswith(TRACE_TAG_PREFIX) and name and len(name) <= 250:
                tags[name] = v.truncate(_tag_text(value), MAX_TRACE_TAG_VALUE_LENGTH)
    return [Tag(k, val) for k, val in tags.items()]


def log_spans(cmd: LogSpans, ctx: DecideContext) -> Decision:
    for batch in cmd.batches:
        check_trace_id(batch.trace_id)
    experiment = yield from existing_experiment(cmd.experiment_id)
    rows: dict[str, TraceRow] = yield GetTraces([b.trace_id for b in cmd.batches])
    for batch in cmd.batches:
        _writable(batch.trace_id, rows.get(batch.trace_id))
    link_run = None
    if cmd.run_id:
        run = yield GetRun(cmd.run_id)
        link_run = run.run_id if run is not None else None
    events: list[Event] = []
    for batch in cmd.batches:
        new = batch.trace_id not in rows
        events.append(
            SpansLogged(
                trace_id=batch.trace_id,
                experiment_id=experiment.experiment_id,
                spans=batch.spans,
                tags=_span_tags(batch, new, experiment.artifact_location),
            )
        )
        if link_run is not None and any(s.parent_id is None for s in batch.spans):
            events.append(TraceLinkedToRuns(trace_id=batch.trace_id, run_ids=[link_run]))
    return Outcome(events=events, result=Nothing())


def set_tag(cmd: SetTraceTag, ctx: DecideContext) -> Decision:
    key = v.require(cmd.key, "key")
    v.check_length(key, MAX_TRACE_TAG_KEY_LENGTH, "key")
    value = v.truncate(cmd.value or "", MAX_TRACE_TAG_VALUE_LENGTH)
    if key == TRACE_NAME_TAG:
        v.check_length(value, MAX_TRACE_NAME_LENGTH, "Trace name")
    yield from existing_trace(cmd.trace_id)
    return Outcome(
        events=[TraceTagSet(trace_id=cmd.trace_id, key=key, value=value)], result=Nothing()
    )


def delete_tag(cmd: DeleteTraceTag, ctx: DecideContext) -> Decision:
    key = v.require(cmd.key, "key")
    yield from existing_trace(cmd.trace_id)
    present: dict[str, str] = yield GetTraceTags(cmd.trace_id, [key])
    if key not in present:
        raise NotFound(f"No trace tag with key '{key}' for trace with ID '{cmd.trace_id}'")
    return Outcome(events=[TraceTagDeleted(trace_id=cmd.trace_id, key=key)], result=Nothing())


def delete(cmd: DeleteTraces, ctx: DecideContext) -> Decision:
    if cmd.max_timestamp_millis is None and not cmd.trace_ids:
        raise InvalidInput("Either `max_timestamp_millis` or `trace_ids` must be specified.")
    if cmd.max_timestamp_millis is not None and cmd.trace_ids:
        raise InvalidInput("Only one of `max_timestamp_millis` and `trace_ids` can be specified.")
    if cmd.trace_ids and cmd.max_traces is not None:
        raise InvalidInput("`max_traces` can't be specified if `trace_ids` is specified.")
    if cmd.max_traces is not None and cmd.max_traces <= 0:
        raise InvalidInput(f"`max_traces` must be a positive integer, received {cmd.max_traces}.")
    experiment = yield from existing_experiment(cmd.experiment_id)
    if cmd.trace_ids:
        rows: dict[str, TraceRow] = yield GetTraces(sorted(set(cmd.trace_ids)))
        ids = [
            r.trace_id
            for r in rows.values()
            if r.lifecycle_stage == "active" and r.experiment_id == experiment.experiment_id
        ]
    else:
        assert cmd.max_timestamp_millis is not None
        limit = cmd.max_traces if cmd.max_traces is not None else v.MAX_INT64
        ids = yield GetTracesBefore(experiment.experiment_id, cmd.max_timestamp_millis, limit)
    events: list[Event] = [TraceDeleted(trace_id=t, time=ctx.now) for t in sorted(ids)]
    return Outcome(events=events, result=BulkResult(count=len(events)))


def restore(cmd: RestoreTraces, ctx: DecideContext) -> Decision:
    rows: dict[str, TraceRow] = yield GetTraces(sorted(set(cmd.trace_ids)))
    events: list[Event] = []
    for trace_id in sorted(set(cmd.trace_ids)):
        row = rows.get(trace_id)
        if row is None:
            raise NotFound(f"Trace with ID '{trace_id}' not found.")
        if row.lifecycle_stage == "purged":
            raise NotFound(
                f"Trace {trace_id} was purged on {_date(row.deleted_time or 0)}; its data is "
                "gone and it cannot be restored."
            )
        if row.lifecycle_stage == "deleted":
            if (row.deleted_time or 0) < ctx.now - ctx.retention_ms:
                raise InvalidInput(
                    f"Trace {trace_id} was deleted on {_date(row.deleted_time or 0)}, more "
                    f"than {ctx.retention_ms // 86_400_000} days ago: it is past the restore "
                    "window and will be purged."
                )
            events.append(TraceRestored(trace_id=trace_id, time=ctx.now))
    return Outcome(events=events, result=BulkResult(count=len(events)))


def link_to_run(cmd: LinkTracesToRun, ctx: DecideContext) -> Decision:
    if len(cmd.trace_ids) > MAX_TRACE_LINKS_PER_REQUEST:
        raise InvalidInput(
            f"Cannot link more than {MAX_TRACE_LINKS_PER_REQUEST} traces to a run in a single "
            f"request. Provided {len(cmd.trace_ids)} traces."
        )
    if not cmd.trace_ids:
        return Outcome(events=[], result=Nothing())
    yield from existing_run(cmd.run_id)
    ids = sorted(set(cmd.trace_ids))
    rows: dict[str, TraceRow] = yield GetTraces(ids)
    for trace_id in ids:
        row = rows.get(trace_id)
        if row is None or row.lifecycle_stage != "active":
            raise NotFound(f"Trace with ID '{trace_id}' not found.")
    events: list[Event] = [TraceLinkedToRuns(trace_id=t, run_ids=[cmd.run_id]) for t in ids]
    return Outcome(events=events, result=Nothing())


def link_prompts(cmd: LinkPromptsToTrace, ctx: DecideContext) -> Decision:
    prompts = sorted(set(cmd.prompts))
    for prompt in prompts:
        name, _, version = prompt.rpartition("/")
        if not name or not version:
            raise InvalidInput(f"Invalid prompt version {prompt!r}: expected 'name/version'.")
    yield from existing_trace(cmd.trace_id)
    events: list[Event] = (
        [TracePromptsLinked(trace_id=cmd.trace_id, prompts=prompts)] if prompts else []
    )
    return Outcome(events=events, result=Nothing())


def _tombstones(trace_ids: Iterable[str], now: int) -> Ask[list[Event]]:
    events: list[Event] = []
    for trace_id in sorted(set(trace_ids)):
        count: int = yield CountStreamEvents(trace_stream(trace_id))
        events.append(TracePurged(trace_id=trace_id, time=now, events_removed=count))
    return events


def purge_expired_traces(cutoff: int, limit: int, now: int) -> Ask[list[Event]]:
    """Tombstones for traces deleted at or before ``cutoff`` (at most ``limit``)."""
    expired: list[str] = yield GetExpiredTraces(cutoff, limit)
    return (yield from _tombstones(expired, now))


def purge_experiment_traces(experiment_id: str, now: int) -> Ask[list[Event]]:
    """Tombstones for every trace of an experiment about to be purged."""
    ids: list[str] = yield GetExperimentTraces(experiment_id)
    return (yield from _tombstones(ids, now))
