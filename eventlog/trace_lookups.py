"""What trace decisions may ask of the current state (see ``lookups.py``)."""

from __future__ import annotations

import msgspec

__all__ = [
    "TRACE_LOOKUPS",
    "GetAssessment",
    "GetExperimentTraces",
    "GetExpiredTraces",
    "GetTraceTags",
    "GetTraces",
    "GetTracesBefore",
    "TraceLookup",
    "TraceRow",
]


class TraceRow(msgspec.Struct, frozen=True, kw_only=True):
    """A trace as decisions see it. ``lifecycle_stage`` is ``active``, ``deleted`` or
    ``purged`` (then only ``deleted_time``, the purge time, is known)."""

    trace_id: str
    experiment_id: str | None
    request_time: int | None
    lifecycle_stage: str
    deleted_time: int | None = None


class GetTraces(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, TraceRow]`` for the known ones among ``trace_ids``, purged ones
    included."""

    trace_ids: list[str]


class GetTraceTags(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, str]`` of the present tags among ``keys``."""

    trace_id: str
    keys: list[str]


class GetTracesBefore(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, active traces of the experiment that started at or before
    ``max_time``, oldest first, at most ``limit``."""

    experiment_id: str
    max_time: int
    limit: int


class GetAssessment(msgspec.Struct, frozen=True):
    """Answer: ``trace_events.AssessmentRecord | None`` (a deleted one is None)."""

    trace_id: str
    assessment_id: str


class GetExpiredTraces(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, traces deleted at or before ``cutoff``, at most ``limit``."""

    cutoff: int
    limit: int


class GetExperimentTraces(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, every trace of the experiment, whatever its stage."""

    experiment_id: str


TraceLookup = (
    GetTraces
    | GetTraceTags
    | GetTracesBefore
    | GetAssessment
    | GetExpiredTraces
    | GetExperimentTraces
)

#: So the answerer can tell them apart from the run and experiment lookups.
TRACE_LOOKUPS = (
    GetTraces,
    GetTraceTags,
    GetTracesBefore,
    GetAssessment,
    GetExpiredTraces,
    GetExperimentTraces,
)
