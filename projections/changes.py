"""Turn a positioned event into the row changes it makes to the read model.

This is the backend-neutral half of every projection. Each backend executes the changes with
merges that do not depend on the order they arrive in (``sqlite_apply.py``):

- run and experiment fields: last writer wins, guarded by the log position that wrote each
  field, so a replay in any order picks the same winner;
- tags: the same guard, and a delete writes a tombstone (``value is None``) at its position;
- params: insert if absent (the decision already refused a changed value);
- metrics: history deduplicated on the whole point; latest = max by (step, timestamp,
  value, is_nan); min/max by LEAST/GREATEST; count of distinct points.
"""

from __future__ import annotations

import msgspec

from trackledger.eventlog import events as e
from trackledger.eventlog.trace_events import TraceEvent
from trackledger.projections.auth_changes import AuthChange, DropGrants, auth_changes_for
from trackledger.projections.registry_changes import RegistryChange, registry_changes_for
from trackledger.projections.trace_changes import AnyTraceChange, trace_changes_for

__all__ = [
    "AddInputs",
    "AddMetrics",
    "AddModelParams",
    "AddParams",
    "AddRunOutputs",
    "AnyChange",
    "PurgeExperiment",
    "PurgeRun",
    "SetExperiment",
    "SetExperimentTags",
    "SetModel",
    "SetModelTags",
    "SetRun",
    "SetRunTags",
    "changes_for",
]

RUN_NAME_TAG = "mlflow.runName"


class SetExperiment(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: int
    pos: int
    name: str | None = None
    artifact_location: str | None = None
    creation_time: int | None = None
    lifecycle_stage: str | None = None
    deleted_time: int | None = None
    last_update_time: int | None = None


class SetExperimentTags(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: int
    pos: int
    tags: list[tuple[str, str | None]]


class SetRun(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    pos: int
    experiment_id: int | None = None
    user_id: str | None = None
    start_time: int | None = None
    artifact_uri: str | None = None
    name: str | None = None
    status: str | None = None
    end_time: int | None = None
    lifecycle_stage: str | None = None
    deleted_time: int | None = None
    deleted_cause: str | None = None


class PurgeRun(msgspec.Struct, frozen=True, kw_only=True):
    """Remove every row of the run and remember it was purged (tombstones win)."""

    run_id: str
    pos: int
    time: int


class PurgeExperiment(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: int
    pos: int
    time: int


class SetModel(msgspec.Struct, frozen=True, kw_only=True):
    model_id: str
    pos: int
    experiment_id: int | None = None
    name: str | None = None
    artifact_location: str | None = None
    creation_time: int | None = None
    source_run_id: str | None = None
    model_type: str | None = None
    status: str | None = None
    lifecycle_stage: str | None = None
    last_updated_time: int | None = None


class SetModelTags(msgspec.Struct, frozen=True, kw_only=True):
    model_id: str
    pos: int
    tags: list[tuple[str, str | None]]


class AddModelParams(msgspec.Struct, frozen=True, kw_only=True):
    model_id: str
    params: list[e.Param]


class AddRunOutputs(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    outputs: list[e.ModelOutput]


class SetRunTags(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    pos: int
    tags: list[tuple[str, str | None]]


class AddParams(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    params: list[e.Param]


class AddMetrics(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    metrics: list[e.MetricPoint]


class AddInputs(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    datasets: list[e.DatasetInput]
    model_ids: list[str]


AnyChange = (
    AnyTraceChange
    | SetModel
    | SetModelTags
    | AddModelParams
    | AddRunOutputs
    | PurgeRun
    | PurgeExperiment
    | SetExperiment
    | SetExperimentTags
    | SetRun
    | SetRunTags
    | AddParams
    | AddMetrics
    | AddInputs
    | AuthChange
    | RegistryChange
)


def _run_tags(event: e.RunTagged | e.BatchLogged, pos: int) -> list[AnyChange]:
    out: list[AnyChange] = [
        SetRunTags(run_id=event.run_id, pos=pos, tags=[(t.key, t.value) for t in event.tags])
    ]
    for tag in event.tags:
        if tag.key == RUN_NAME_TAG:
            # MLflow keeps run_name and the mlflow.runName tag in step.
            out.append(SetRun(run_id=event.run_id, pos=pos, name=tag.value))
    return out


def changes_for(event: e.AnyEvent, pos: int) -> list[AnyChange]:  # noqa: C901 - one case per event
    """The row changes ``event`` at log position ``pos`` makes."""
    if isinstance(event, e.AUTH_EVENTS):
        return list(auth_changes_for(event, pos))
    if isinstance(event, TraceEvent):
        return list(trace_changes_for(event, pos))
    if isinstance(event, e.REGISTRY_EVENTS):
        return list(registry_changes_for(event, pos))
    match event:
        case e.ExperimentCreated():
            exp_id = int(event.experiment_id)
            return [
                SetExperiment(
                    experiment_id=exp_id,
                    pos=pos,
                    name=event.name,
                    artifact_location=event.artifact_location,
                    creation_time=event.creation_time,
                    lifecycle_stage="active",
                    last_update_time=event.creation_time,
                ),
                SetExperimentTags(
                    experiment_id=exp_id, pos=pos, tags=[(t.key, t.value) for t in event.tags]
                ),
            ]
        case e.ExperimentRenamed():
            return [
                SetExperiment(
                    experiment_id=int(event.experiment_id),
                    pos=pos,
                    name=event.name,
                    last_update_time=event.time,
                )
            ]
        case e.ExperimentTagSet():
            return [
                SetExperimentTags(
                    experiment_id=int(event.experiment_id),
                    pos=pos,
                    tags=[(event.key, event.value)],
                )
            ]
        case e.ExperimentTagDeleted():
            return [
                SetExperimentTags(
                    experiment_id=int(event.experiment_id), pos=pos, tags=[(event.key, None)]
                )
            ]
        case e.ExperimentDeleted() | e.ExperimentRestored():
            deleted = isinstance(event, e.ExperimentDeleted)
            return [
                SetExperiment(
                    experiment_id=int(event.experiment_id),
                    pos=pos,
                    lifecycle_stage="deleted" if deleted else "active",
                    deleted_time=event.time if deleted else None,
                    last_update_time=event.time,
                )
            ]
        case e.RunCreated():
            return [
                SetRun(
                    run_id=event.run_id,
                    pos=pos,
                    experiment_id=int(event.experiment_id),
                    user_id=event.user_id,
                    start_time=event.start_time,
                    artifact_uri=event.artifact_uri,
                    name=event.run_name,
                    status=event.status,
                    lifecycle_stage="active",
                ),
                SetRunTags(
                    run_id=event.run_id, pos=pos, tags=[(t.key, t.value) for t in event.tags]
                ),
            ]
        case e.RunUpdated():
            out: list[AnyChange] = [
                SetRun(
                    run_id=event.run_id,
                    pos=pos,
                    name=event.run_name,
                    status=event.status,
                    end_time=event.end_time,
                )
            ]
            if event.run_name is not None:
                out.append(
                    SetRunTags(run_id=event.run_id, pos=pos, tags=[(RUN_NAME_TAG, event.run_name)])
                )
            return out
        case e.RunTagged():
            return _run_tags(event, pos)
        case e.RunTagDeleted():
            return [SetRunTags(run_id=event.run_id, pos=pos, tags=[(event.key, None)])]
        case e.ParamsLogged():
            return [AddParams(run_id=event.run_id, params=event.params)]
        case e.MetricsLogged():
            return [AddMetrics(run_id=event.run_id, metrics=event.metrics)]
        case e.BatchLogged():
            out = []
            if event.metrics:
                out.append(AddMetrics(run_id=event.run_id, metrics=event.metrics))
            if event.params:
                out.append(AddParams(run_id=event.run_id, params=event.params))
            if event.tags:
                out.extend(_run_tags(event, pos))
            return out
        case e.InputsLogged():
            return [
                AddInputs(run_id=event.run_id, datasets=event.datasets, model_ids=event.model_ids)
            ]
        case e.RunDeleted():
            return [
                SetRun(
                    run_id=event.run_id,
                    pos=pos,
                    lifecycle_stage="deleted",
                    deleted_time=event.time,
                    deleted_cause=event.cascade,
                )
            ]
        case e.RunRestored():
            return [SetRun(run_id=event.run_id, pos=pos, lifecycle_stage="active")]
        case e.RunArtifactLogged():
            return []  # the log records it; the bytes and their listing live in the store
        case e.RunOutputsLogged():
            return [AddRunOutputs(run_id=event.run_id, outputs=event.models)]
        case e.LoggedModelCreated():
            return [
                SetModel(
                    model_id=event.model_id,
                    pos=pos,
                    experiment_id=int(event.experiment_id),
                    name=event.name,
                    artifact_location=event.artifact_location,
                    creation_time=event.creation_time,
                    source_run_id=event.source_run_id,
                    model_type=event.model_type,
                    status="LOGGED_MODEL_PENDING",
                    lifecycle_stage="active",
                    last_updated_time=event.creation_time,
                ),
                SetModelTags(
                    model_id=event.model_id, pos=pos, tags=[(t.key, t.value) for t in event.tags]
                ),
                AddModelParams(model_id=event.model_id, params=event.params),
            ]
        case e.LoggedModelFinalized():
            return [
                SetModel(
                    model_id=event.model_id,
                    pos=pos,
                    status=event.status,
                    last_updated_time=event.time,
                )
            ]
        case e.LoggedModelTagged() | e.LoggedModelTagDeleted():
            tags: list[tuple[str, str | None]] = (
                [(t.key, t.value) for t in event.tags]
                if isinstance(event, e.LoggedModelTagged)
                else [(event.key, None)]
            )
            return [
                SetModelTags(model_id=event.model_id, pos=pos, tags=tags),
                SetModel(model_id=event.model_id, pos=pos, last_updated_time=event.time),
            ]
        case e.LoggedModelParamsLogged():
            return [AddModelParams(model_id=event.model_id, params=event.params)]
        case e.LoggedModelDeleted():
            return [
                SetModel(
                    model_id=event.model_id,
                    pos=pos,
                    lifecycle_stage="deleted",
                    last_updated_time=event.time,
                )
            ]
        case e.ExperimentImported():
            # What the source said of its last update (MLflow: renames, deletes, restores).
            return [
                SetExperiment(
                    experiment_id=int(event.experiment_id),
                    pos=pos,
                    last_update_time=event.last_update_time,
                )
            ]
        case e.LoggedModelImported():
            return [
                SetModel(
                    model_id=event.model_id, pos=pos, last_updated_time=event.last_updated_time
                )
            ]
        case e.RunImported():
            return []  # a marker: the run's data comes in the events after it
        case e.RunPurged():
            return [PurgeRun(run_id=event.run_id, pos=pos, time=event.time)]
        case e.ExperimentPurged():
            return [
                PurgeExperiment(experiment_id=int(event.experiment_id), pos=pos, time=event.time),
                # Grants on the experiment were events of its stream, gone with it.
                DropGrants(resource_type="experiment", resource_id=event.experiment_id),
            ]
    raise TypeError(f"no projection for event {type(event).__name__}")
