"""Decisions for assessments of traces: feedback, expectations and issue references.

MLflow's rules: an assessment that ``overrides`` another makes that one invalid until the
override is deleted; an update keeps the source, the span and the creation time, merges
the metadata, and cannot turn feedback into an expectation; deleting an assessment that is
not there does nothing.
"""

from __future__ import annotations

import uuid

import msgspec

from trackledger.eventlog import validation as v
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.eventlog.lookups import Ask, Decision, Outcome
from trackledger.eventlog.results import AssessmentId, Nothing
from trackledger.eventlog.trace_commands import (
    AssessmentIn,
    CreateAssessment,
    DeleteAssessment,
    UpdateAssessment,
)
from trackledger.eventlog.trace_events import AssessmentDeleted, AssessmentRecord, AssessmentSet
from trackledger.eventlog.trace_lookups import GetAssessment, GetTraces, TraceRow

__all__ = ["KINDS", "SOURCE_TYPES", "assessment_record", "create", "delete", "update"]

KINDS = ("feedback", "expectation", "issue")
SOURCE_TYPES = ("SOURCE_TYPE_UNSPECIFIED", "HUMAN", "LLM_JUDGE", "CODE")
MAX_NAME_LENGTH = 250


def assessment_record(item: AssessmentIn, ctx: DecideContext, field: str) -> AssessmentRecord:
    """A new assessment from a request, checked; its id is made here unless it has one."""
    name = v.require(item.name, f"{field}.assessment_name")
    v.check_length(name, MAX_NAME_LENGTH, f"{field}.assessment_name")
    if item.kind not in KINDS:
        raise InvalidInput(
            f"An assessment needs exactly one of feedback, expectation or issue ({field})."
        )
    source_type = (item.source_type or "SOURCE_TYPE_UNSPECIFIED").upper()
    if source_type not in SOURCE_TYPES:
        raise InvalidInput(
            f"Invalid value {item.source_type!r} for parameter '{field}.source.source_type' "
            f"supplied. It must be one of {', '.join(SOURCE_TYPES)}."
        )
    return AssessmentRecord(
        assessment_id=item.assessment_id or f"a-{uuid.uuid4().hex}",
        name=name,
        kind=item.kind,
        create_time=item.create_time if item.create_time is not None else ctx.now,
        last_update_time=item.last_update_time if item.last_update_time is not None else ctx.now,
        value=item.value,
        error=item.error,
        rationale=item.rationale,
        metadata=dict(item.metadata),
        source_type=source_type,
        source_id=item.source_id,
        span_id=item.span_id or None,
        overrides=item.overrides or None,
        valid=item.valid if item.valid is not None else True,
    )


def _trace(trace_id: str) -> Ask[TraceRow]:
    rows: dict[str, TraceRow] = yield GetTraces([trace_id])
    row = rows.get(trace_id)
    if row is None or row.lifecycle_stage != "active":
        raise NotFound(f"Trace with ID '{trace_id}' not found.")
    return row


def create(cmd: CreateAssessment, ctx: DecideContext) -> Decision:
    record = assessment_record(cmd.assessment, ctx, "assessment")
    yield from _trace(cmd.trace_id)
    if record.overrides is not None:
        overridden = yield GetAssessment(cmd.trace_id, record.overrides)
        if overridden is None:
            raise NotFound(
                f"Assessment with ID '{record.overrides}' not found for trace '{cmd.trace_id}'"
            )
    event = AssessmentSet(trace_id=cmd.trace_id, assessment=record)
    return Outcome(events=[event], result=AssessmentId(assessment_id=record.assessment_id))


def _existing(trace_id: str, assessment_id: str) -> Ask[AssessmentRecord]:
    yield from _trace(trace_id)
    found: AssessmentRecord | None = yield GetAssessment(trace_id, assessment_id)
    if found is None:
        raise NotFound(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'")
    return found


def update(cmd: UpdateAssessment, ctx: DecideContext) -> Decision:
    old = yield from _existing(cmd.trace_id, cmd.assessment_id)
    changes: dict[str, object] = {"last_update_time": ctx.now}
    if "name" in cmd.fields:
        name = v.require(cmd.name, "assessment.assessment_name")
        v.check_length(name, MAX_NAME_LENGTH, "assessment.assessment_name")
        changes["name"] = name
    if "value" in cmd.fields:
        if cmd.kind != old.kind:
            raise InvalidInput(
                f"Cannot update {cmd.kind} value on {'an' if old.kind[0] in 'aeiou' else 'a'} "
                f"{old.kind.capitalize()} assessment."
            )
        changes["value"] = cmd.value
        if old.kind == "feedback":
            changes["error"] = cmd.error
    if "rationale" in cmd.fields and old.kind == "feedback":
        changes["rationale"] = cmd.rationale
    if "metadata" in cmd.fields:
        changes["metadata"] = {**old.metadata, **cmd.metadata}
    record = msgspec.structs.replace(old, **changes)
    event = AssessmentSet(trace_id=cmd.trace_id, assessment=record)
    return Outcome(events=[event], result=AssessmentId(assessment_id=record.assessment_id))


def delete(cmd: DeleteAssessment, ctx: DecideContext) -> Decision:
    yield from _trace(cmd.trace_id)
    found: AssessmentRecord | None = yield GetAssessment(cmd.trace_id, cmd.assessment_id)
    if found is None:
        return Outcome(events=[], result=Nothing())
    event = AssessmentDeleted(trace_id=cmd.trace_id, assessment_id=cmd.assessment_id)
    return Outcome(events=[event], result=Nothing())
