"""Commands: what a caller asks the log to do.

A command is plain data as the API decoded it (types already checked, limits not yet).
``decide.py`` turns a command plus the current state into events, or rejects it.
"""

from __future__ import annotations

import msgspec

from trackledger.eventlog.auth_commands import (
    AddRolePermission,
    AssignRole,
    ChangePassword,
    ChangeRolePermission,
    CreateRole,
    CreateToken,
    CreateUser,
    DeleteRole,
    DeleteUser,
    GrantPermission,
    RemoveRolePermission,
    RevokePermission,
    RevokeToken,
    SetAdmin,
    UnassignRole,
    UpdateRole,
)
from trackledger.eventlog.command_base import Command, TagIn
from trackledger.eventlog.events import DatasetInput, ModelOutput
from trackledger.eventlog.registry_commands import (
    CreateModelVersion,
    CreateRegisteredModel,
    DeleteModelVersion,
    DeleteModelVersionTag,
    DeleteRegisteredModel,
    DeleteRegisteredModelAlias,
    DeleteRegisteredModelTag,
    RenameRegisteredModel,
    SetModelVersionTag,
    SetRegisteredModelAlias,
    SetRegisteredModelTag,
    TransitionModelVersionStage,
    UpdateModelVersion,
    UpdateRegisteredModel,
)
from trackledger.eventlog.trace_commands import AnyTraceCommand

__all__ = [
    "AnyCommand",
    "Command",
    "CreateExperiment",
    "CreateLoggedModel",
    "CreateRun",
    "DeleteExperiment",
    "DeleteExperimentTag",
    "DeleteLoggedModel",
    "DeleteLoggedModelTag",
    "DeleteRun",
    "DeleteRunTag",
    "DeleteRunsByTime",
    "EnsureDefaultExperiment",
    "FinalizeLoggedModel",
    "LogBatch",
    "LogInputs",
    "LogLoggedModelParams",
    "LogOutputs",
    "MetricIn",
    "ParamIn",
    "Purge",
    "RecordArtifact",
    "RenameExperiment",
    "RestoreExperiment",
    "RestoreRun",
    "RestoreRunsByTime",
    "SetExperimentTag",
    "SetLoggedModelTags",
    "TagIn",
    "UpdateRun",
]


class ParamIn(msgspec.Struct, frozen=True):
    key: str | None = None
    value: str | None = None


class MetricIn(msgspec.Struct, frozen=True):
    key: str | None = None
    value: float | None = None
    timestamp: int | None = None
    step: int | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class EnsureDefaultExperiment(Command, frozen=True, kw_only=True, tag="ensure_default"):
    pass


class CreateExperiment(Command, frozen=True, kw_only=True, tag="create_experiment"):
    name: str | None
    artifact_location: str | None = None
    tags: list[TagIn] = []
    #: With authentication on, the creator: granted MANAGE on the new experiment.
    owner_id: int | None = None
    owner_name: str | None = None


class RenameExperiment(Command, frozen=True, kw_only=True, tag="rename_experiment"):
    experiment_id: str
    new_name: str | None


class SetExperimentTag(Command, frozen=True, kw_only=True, tag="set_experiment_tag"):
    experiment_id: str
    key: str | None
    value: str | None


class DeleteExperimentTag(Command, frozen=True, kw_only=True, tag="delete_experiment_tag"):
    experiment_id: str
    key: str | None


class DeleteExperiment(Command, frozen=True, kw_only=True, tag="delete_experiment"):
    experiment_id: str


class RestoreExperiment(Command, frozen=True, kw_only=True, tag="restore_experiment"):
    experiment_id: str


class CreateRun(Command, frozen=True, kw_only=True, tag="create_run"):
    experiment_id: str | None = None
    user_id: str | None = None
    run_name: str | None = None
    start_time: int | None = None
    tags: list[TagIn] = []


class UpdateRun(Command, frozen=True, kw_only=True, tag="update_run"):
    run_id: str
    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class LogBatch(Command, frozen=True, kw_only=True, tag="log_batch"):
    """log-metric, log-parameter, set-tag and log-batch all become this command."""

    run_id: str
    metrics: list[MetricIn] = []
    params: list[ParamIn] = []
    tags: list[TagIn] = []
    #: ``"batch"`` names fields like ``metrics[0].key``; single calls name them plainly.
    shape: str = "batch"


class DeleteRunTag(Command, frozen=True, kw_only=True, tag="delete_run_tag"):
    run_id: str
    key: str | None


class LogInputs(Command, frozen=True, kw_only=True, tag="log_inputs"):
    run_id: str
    datasets: list[DatasetInput] = []
    model_ids: list[str] = []


class DeleteRun(Command, frozen=True, kw_only=True, tag="delete_run"):
    run_id: str
    #: trackledger's extension: also delete every descendant (restored together).
    include_descendants: bool = False


class DeleteRunsByTime(Command, frozen=True, kw_only=True, tag="delete_runs_by_time"):
    experiment_id: str
    max_timestamp_millis: int | None
    max_runs: int | None = None


class RestoreRunsByTime(Command, frozen=True, kw_only=True, tag="restore_runs_by_time"):
    experiment_id: str
    min_timestamp_millis: int | None
    max_runs: int | None = None


class CreateLoggedModel(Command, frozen=True, kw_only=True, tag="create_logged_model"):
    experiment_id: str
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[ParamIn] = []
    tags: list[TagIn] = []


class FinalizeLoggedModel(Command, frozen=True, kw_only=True, tag="finalize_logged_model"):
    model_id: str
    status: str | None


class SetLoggedModelTags(Command, frozen=True, kw_only=True, tag="set_logged_model_tags"):
    model_id: str
    tags: list[TagIn]


class DeleteLoggedModelTag(Command, frozen=True, kw_only=True, tag="delete_logged_model_tag"):
    model_id: str
    key: str


class LogLoggedModelParams(Command, frozen=True, kw_only=True, tag="log_logged_model_params"):
    model_id: str
    params: list[ParamIn]


class DeleteLoggedModel(Command, frozen=True, kw_only=True, tag="delete_logged_model"):
    model_id: str


class LogOutputs(Command, frozen=True, kw_only=True, tag="log_outputs"):
    run_id: str
    models: list[ModelOutput]


class RecordArtifact(Command, frozen=True, kw_only=True, tag="record_artifact"):
    """Note in the run's history that a file was stored (the bytes are already stored).
    ``sha256`` is "" when the server did not see the bytes (a direct multipart upload)."""

    run_id: str
    path: str
    size: int
    sha256: str


class Purge(Command, frozen=True, kw_only=True, tag="purge"):
    """Remove for good what was deleted at least ``older_than_ms`` ago (by the store's
    clock, the one that stamped the deletions)."""

    older_than_ms: int
    max_runs: int = 1000


class RestoreRun(Command, frozen=True, kw_only=True, tag="restore_run"):
    run_id: str


AnyCommand = (
    EnsureDefaultExperiment
    | CreateExperiment
    | RenameExperiment
    | SetExperimentTag
    | DeleteExperimentTag
    | DeleteExperiment
    | RestoreExperiment
    | CreateRun
    | UpdateRun
    | LogBatch
    | DeleteRunTag
    | LogInputs
    | DeleteRun
    | RestoreRun
    | DeleteRunsByTime
    | RestoreRunsByTime
    | Purge
    | CreateLoggedModel
    | FinalizeLoggedModel
    | SetLoggedModelTags
    | DeleteLoggedModelTag
    | LogLoggedModelParams
    | DeleteLoggedModel
    | LogOutputs
    | RecordArtifact
    | CreateUser
    | ChangePassword
    | SetAdmin
    | DeleteUser
    | CreateToken
    | RevokeToken
    | CreateRole
    | UpdateRole
    | DeleteRole
    | AddRolePermission
    | ChangeRolePermission
    | RemoveRolePermission
    | AssignRole
    | UnassignRole
    | GrantPermission
    | RevokePermission
    | AnyTraceCommand
    | CreateRegisteredModel
    | RenameRegisteredModel
    | UpdateRegisteredModel
    | DeleteRegisteredModel
    | SetRegisteredModelTag
    | DeleteRegisteredModelTag
    | CreateModelVersion
    | UpdateModelVersion
    | TransitionModelVersionStage
    | DeleteModelVersion
    | SetModelVersionTag
    | DeleteModelVersionTag
    | SetRegisteredModelAlias
    | DeleteRegisteredModelAlias
)
