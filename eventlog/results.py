"""Answers of accepted commands.

They are stored beside idempotency keys, so a retried request gets the first answer back:
tagged structs, encoded with msgpack.
"""

from __future__ import annotations

import msgspec

from trackledger.eventlog.events import RunCreated
from trackledger.eventlog.lookups import RunState

__all__ = [
    "AnyResult",
    "AssessmentId",
    "AuthRef",
    "BulkResult",
    "CreatedRun",
    "ExperimentId",
    "ModelId",
    "ModelVersionRef",
    "Nothing",
    "RegisteredModelRef",
    "RunInfo",
    "TraceId",
    "decode_result",
    "encode_result",
]


class _Result(msgspec.Struct, frozen=True, kw_only=True, tag_field="result"):
    pass


class Nothing(_Result, frozen=True, kw_only=True, tag="nothing"):
    pass


class ExperimentId(_Result, frozen=True, kw_only=True, tag="experiment_id"):
    experiment_id: str


class ModelId(_Result, frozen=True, kw_only=True, tag="model_id"):
    model_id: str


class AuthRef(_Result, frozen=True, kw_only=True, tag="auth_ref"):
    """The id of a user, role, role permission or role assignment just created."""

    id: int


class TraceId(_Result, frozen=True, kw_only=True, tag="trace_id"):
    trace_id: str


class AssessmentId(_Result, frozen=True, kw_only=True, tag="assessment_id"):
    assessment_id: str


class RegisteredModelRef(_Result, frozen=True, kw_only=True, tag="registered_model"):
    registered_model_id: str


class ModelVersionRef(_Result, frozen=True, kw_only=True, tag="model_version"):
    registered_model_id: str
    version: int


class CreatedRun(_Result, frozen=True, kw_only=True, tag="created_run"):
    """The run as it was created (its creation event describes all of it)."""

    event: RunCreated


class RunInfo(_Result, frozen=True, kw_only=True, tag="run_info"):
    run: RunState


class BulkResult(_Result, frozen=True, kw_only=True, tag="bulk"):
    count: int
    experiments: int = 0
    #: The artifact roots of purged runs, for the caller to remove from the artifact store.
    artifact_uris: list[str] = []
    #: Traces purged (by a purge) alongside the runs.
    traces: int = 0


AnyResult = (
    Nothing
    | ExperimentId
    | CreatedRun
    | RunInfo
    | BulkResult
    | ModelId
    | RegisteredModelRef
    | ModelVersionRef
    | AuthRef
    | TraceId
    | AssessmentId
)

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[AnyResult] = msgspec.msgpack.Decoder(AnyResult)


def encode_result(result: AnyResult) -> bytes:
    return _encoder.encode(result)


def decode_result(data: bytes) -> AnyResult:
    return _decoder.decode(data)
