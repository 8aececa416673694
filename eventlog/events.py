"""The events of the log: frozen, tagged msgspec structs.

Every accepted write appends exactly one event per affected stream (one run or one
experiment). Events carry already-validated, normalized data, so replaying them needs no
validation. Evolution rules (msgspec schema evolution): a new field gets a default; a field's
type and an event's tag never change; a breaking change is a new tag plus an upcaster in
``upcast.py``.
"""

from __future__ import annotations

import msgspec

from trackledger.eventlog.auth_events import (
    AUTH_EVENTS,
    PermissionGranted,
    PermissionRevoked,
    RoleAssigned,
    RoleCreated,
    RoleDeleted,
    RolePermissionAdded,
    RolePermissionChanged,
    RolePermissionRemoved,
    RoleUnassigned,
    RoleUpdated,
    TokenCreated,
    TokenRevoked,
    UserAdminChanged,
    UserCreated,
    UserDeleted,
    UserPasswordChanged,
)
from trackledger.eventlog.event_base import Event, Tag
from trackledger.eventlog.registry_events import (
    REGISTRY_EVENTS,
    AliasDeleted,
    AliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageChanged,
    ModelVersionTagDeleted,
    ModelVersionTagSet,
    ModelVersionUpdated,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelImported,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagSet,
    RegisteredModelUpdated,
)
from trackledger.eventlog.trace_events import (
    AssessmentDeleted,
    AssessmentSet,
    SpansLogged,
    TraceDeleted,
    TraceInfoLogged,
    TraceLinkedToRuns,
    TracePromptsLinked,
    TracePurged,
    TraceRestored,
    TraceTagDeleted,
    TraceTagSet,
)

__all__ = [
    "AUTH_EVENTS",
    "IMPORT_MARKERS",
    "REGISTRY_EVENTS",
    "TOMBSTONES",
    "AnyEvent",
    "BatchLogged",
    "DatasetInput",
    "Event",
    "ExperimentCreated",
    "ExperimentDeleted",
    "ExperimentImported",
    "ExperimentPurged",
    "ExperimentRenamed",
    "ExperimentRestored",
    "ExperimentTagDeleted",
    "ExperimentTagSet",
    "InputsLogged",
    "LoggedModelCreated",
    "LoggedModelDeleted",
    "LoggedModelFinalized",
    "LoggedModelImported",
    "LoggedModelParamsLogged",
    "LoggedModelTagDeleted",
    "LoggedModelTagged",
    "MetricPoint",
    "MetricsLogged",
    "ModelOutput",
    "Param",
    "ParamsLogged",
    "RunArtifactLogged",
    "RunCreated",
    "RunDeleted",
    "RunImported",
    "RunOutputsLogged",
    "RunPurged",
    "RunRestored",
    "RunTagDeleted",
    "RunTagged",
    "RunUpdated",
    "Tag",
    "decode_event",
    "encode_event",
    "experiment_stream",
    "model_stream",
    "run_stream",
]


class Param(msgspec.Struct, frozen=True, array_like=True):
    key: str
    value: str


class MetricPoint(msgspec.Struct, frozen=True, array_like=True):
    """One metric point. NaN and infinities are stored as the float itself."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class DatasetInput(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None
    tags: list[Tag] = []


def model_stream(model_id: str) -> str:
    return f"model/{model_id}"


def experiment_stream(experiment_id: str) -> str:
    return f"experiment/{experiment_id}"


def run_stream(run_id: str) -> str:
    return f"run/{run_id}"


class _ExperimentEvent(Event, frozen=True, kw_only=True):
    experiment_id: str

    @property
    def stream(self) -> str:
        return experiment_stream(self.experiment_id)


class _RunEvent(Event, frozen=True, kw_only=True):
    run_id: str

    @property
    def stream(self) -> str:
        return run_stream(self.run_id)


class ExperimentCreated(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.created"):
    name: str
    artifact_location: str
    creation_time: int
    tags: list[Tag] = []


class ExperimentRenamed(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.renamed"):
    name: str
    time: int


class ExperimentTagSet(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.tagged"):
    key: str
    value: str


class ExperimentTagDeleted(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.untagged"):
    key: str


class ExperimentDeleted(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.deleted"):
    time: int


class ExperimentRestored(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.restored"):
    time: int


class RunCreated(_RunEvent, frozen=True, kw_only=True, tag="run.created"):
    experiment_id: str
    run_name: str
    user_id: str | None = None
    start_time: int
    artifact_uri: str
    status: str = "RUNNING"
    tags: list[Tag] = []


class RunUpdated(_RunEvent, frozen=True, kw_only=True, tag="run.updated"):
    """Status, end time and/or name changed; ``None`` means "not part of this update"."""

    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class RunTagged(_RunEvent, frozen=True, kw_only=True, tag="run.tagged"):
    tags: list[Tag]


class RunTagDeleted(_RunEvent, frozen=True, kw_only=True, tag="run.untagged"):
    key: str


class ParamsLogged(_RunEvent, frozen=True, kw_only=True, tag="run.params_logged"):
    params: list[Param]


class MetricsLogged(_RunEvent, frozen=True, kw_only=True, tag="run.metrics_logged"):
    metrics: list[MetricPoint]


class BatchLogged(_RunEvent, frozen=True, kw_only=True, tag="run.batch_logged"):
    """One log-batch call that carried more than one kind of data."""

    metrics: list[MetricPoint] = []
    params: list[Param] = []
    tags: list[Tag] = []


class InputsLogged(_RunEvent, frozen=True, kw_only=True, tag="run.inputs_logged"):
    datasets: list[DatasetInput] = []
    model_ids: list[str] = []


class RunDeleted(_RunEvent, frozen=True, kw_only=True, tag="run.deleted"):
    time: int
    #: The request that covered this run: the run id whose delete took its descendants
    #: along, "experiment/<id>" for an experiment delete, "bulk" for delete-runs by time.
    #: Restoring that run restores the runs deleted with it.
    cascade: str | None = None


class RunPurged(_RunEvent, frozen=True, kw_only=True, tag="run.purged"):
    """Tombstone: the run's events and rows were removed for good."""

    time: int
    events_removed: int


class RunRestored(_RunEvent, frozen=True, kw_only=True, tag="run.restored"):
    time: int


class ModelOutput(msgspec.Struct, frozen=True, array_like=True):
    model_id: str
    step: int = 0


class RunArtifactLogged(_RunEvent, frozen=True, kw_only=True, tag="run.artifact_logged"):
    """A file was stored under the run's artifact root (the bytes live in the store)."""

    path: str
    size: int
    #: Hex digest of the bytes; "" when they never passed through the server (a multipart
    #: upload the client sent straight to object storage).
    sha256: str


class RunOutputsLogged(_RunEvent, frozen=True, kw_only=True, tag="run.outputs_logged"):
    models: list[ModelOutput]


class _ModelEvent(Event, frozen=True, kw_only=True):
    model_id: str

    @property
    def stream(self) -> str:
        return model_stream(self.model_id)


class LoggedModelCreated(_ModelEvent, frozen=True, kw_only=True, tag="model.created"):
    experiment_id: str
    name: str
    artifact_location: str
    creation_time: int
    source_run_id: str | None = None
    model_type: str | None = None
    params: list[Param] = []
    tags: list[Tag] = []


class LoggedModelFinalized(_ModelEvent, frozen=True, kw_only=True, tag="model.finalized"):
    status: str
    time: int


class LoggedModelTagged(_ModelEvent, frozen=True, kw_only=True, tag="model.tagged"):
    tags: list[Tag]
    time: int


class LoggedModelTagDeleted(_ModelEvent, frozen=True, kw_only=True, tag="model.untagged"):
    key: str
    time: int


class LoggedModelParamsLogged(_ModelEvent, frozen=True, kw_only=True, tag="model.params_logged"):
    params: list[Param]
    time: int


class LoggedModelDeleted(_ModelEvent, frozen=True, kw_only=True, tag="model.deleted"):
    time: int


class ExperimentPurged(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.purged"):
    """Tombstone: the experiment's events and rows were removed for good (its runs were
    purged first, each with its own tombstone)."""

    time: int
    events_removed: int


class ExperimentImported(_ExperimentEvent, frozen=True, kw_only=True, tag="experiment.imported"):
    """The experiment came (or came again) from another tracking server or its database.

    ``source`` names it (without credentials), ``source_id`` is the experiment's id there
    and ``imported_at`` the time of the import. The other fields are what the source held
    at that import: the next import compares the source with them, so it brings only what
    changed there since, and never undoes a change made here.
    """

    source: str
    source_id: str
    imported_at: int
    name: str
    lifecycle_stage: str
    last_update_time: int | None = None
    tags: list[Tag] = []


class RunImported(_RunEvent, frozen=True, kw_only=True, tag="run.imported"):
    """The run came (or came again) from another tracking server (see
    ``ExperimentImported``); the run keeps its id."""

    source: str
    source_id: str
    imported_at: int
    run_name: str
    status: str
    lifecycle_stage: str
    end_time: int | None = None
    tags: list[Tag] = []


class LoggedModelImported(_ModelEvent, frozen=True, kw_only=True, tag="model.imported"):
    """The logged model came (or came again) from another tracking server (see
    ``ExperimentImported``); the model keeps its id."""

    source: str
    source_id: str
    imported_at: int
    status: str
    lifecycle_stage: str
    last_updated_time: int | None = None
    tags: list[Tag] = []


#: Events that say where a stream's data came from, when it came from another server.
IMPORT_MARKERS = (ExperimentImported, RunImported, LoggedModelImported, RegisteredModelImported)

AnyEvent = (
    ExperimentCreated
    | ExperimentRenamed
    | ExperimentTagSet
    | ExperimentTagDeleted
    | ExperimentDeleted
    | ExperimentRestored
    | RunCreated
    | RunUpdated
    | RunTagged
    | RunTagDeleted
    | ParamsLogged
    | MetricsLogged
    | BatchLogged
    | InputsLogged
    | RunDeleted
    | RunRestored
    | RunPurged
    | ExperimentPurged
    | RunArtifactLogged
    | RunOutputsLogged
    | LoggedModelCreated
    | LoggedModelFinalized
    | LoggedModelTagged
    | LoggedModelTagDeleted
    | LoggedModelParamsLogged
    | LoggedModelDeleted
    | UserCreated
    | UserPasswordChanged
    | UserAdminChanged
    | UserDeleted
    | TokenCreated
    | TokenRevoked
    | RoleCreated
    | RoleUpdated
    | RoleDeleted
    | RolePermissionAdded
    | RolePermissionChanged
    | RolePermissionRemoved
    | RoleAssigned
    | RoleUnassigned
    | PermissionGranted
    | PermissionRevoked
    | TraceInfoLogged
    | SpansLogged
    | TraceTagSet
    | TraceTagDeleted
    | AssessmentSet
    | AssessmentDeleted
    | TraceLinkedToRuns
    | TracePromptsLinked
    | TraceDeleted
    | TraceRestored
    | TracePurged
    | ExperimentImported
    | RunImported
    | LoggedModelImported
    | RegisteredModelCreated
    | RegisteredModelRenamed
    | RegisteredModelUpdated
    | RegisteredModelTagSet
    | RegisteredModelTagDeleted
    | RegisteredModelDeleted
    | ModelVersionCreated
    | ModelVersionUpdated
    | ModelVersionStageChanged
    | ModelVersionDeleted
    | ModelVersionTagSet
    | ModelVersionTagDeleted
    | AliasSet
    | AliasDeleted
    | RegisteredModelImported
)

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[AnyEvent] = msgspec.msgpack.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes) -> AnyEvent:
    """The event in ``payload``; one of an old tag through its upcaster (``upcast.py``)."""
    try:
        return _decoder.decode(payload)
    except msgspec.ValidationError as refused:
        from trackledger.eventlog.upcast import upcast  # only for old payloads

        return upcast(payload, refused)


#: Events that replace their stream's history: appending one removes the stream's events.
TOMBSTONES = (RunPurged, ExperimentPurged, TracePurged)
