"""Decisions for experiment commands (MLflow's rules, reference section 3.1)."""

from __future__ import annotations

from trackledger.eventlog import validation as v
from trackledger.eventlog.auth_events import owner_grant
from trackledger.eventlog.commands import (
    CreateExperiment,
    DeleteExperiment,
    DeleteExperimentTag,
    EnsureDefaultExperiment,
    RenameExperiment,
    RestoreExperiment,
    SetExperimentTag,
    TagIn,
)
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.errors import (
    AlreadyExists,
    InactiveExperiment,
    InvalidInput,
    InvalidState,
    NameConflict,
    NotFound,
)
from trackledger.eventlog.events import (
    Event,
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagSet,
    RunDeleted,
    RunRestored,
    Tag,
)
from trackledger.eventlog.lookups import (
    Ask,
    Decision,
    ExperimentState,
    GetExperiment,
    GetExperimentByName,
    GetExperimentRuns,
    GetExperimentTags,
    GetRunsDeletedSince,
    NextExperimentId,
    Outcome,
)
from trackledger.eventlog.results import ExperimentId, Nothing

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


def artifact_location_for(root: str, experiment_id: str) -> str:
    return f"{root.rstrip('/')}/{experiment_id}"


def not_found(experiment_id: str) -> NotFound:
    return NotFound(f"No Experiment with id={experiment_id} exists")


def existing(experiment_id: str, lock: str = "share") -> Ask[ExperimentState]:
    v.check_experiment_id(experiment_id)
    experiment: ExperimentState | None = yield GetExperiment(experiment_id, lock)
    if experiment is None:
        raise not_found(experiment_id)
    return experiment


def active(experiment_id: str) -> Ask[ExperimentState]:
    experiment = yield from existing(experiment_id)
    if experiment.lifecycle_stage != "active":
        raise InactiveExperiment(experiment_id, experiment.lifecycle_stage)
    return experiment


def _experiment_tag(tag: TagIn, index: int | None) -> Tag:
    prefix = "key" if index is None else f"tags[{index}].key"
    key = v.require(tag.key, prefix)
    v.check_entity_name(key, prefix)
    value = tag.value or ""
    v.check_length(value, v.MAX_EXPERIMENT_TAG_VALUE_LENGTH, "value")
    return Tag(key, value)


def ensure_default(cmd: EnsureDefaultExperiment, ctx: DecideContext) -> Decision:
    existing = yield GetExperiment(DEFAULT_EXPERIMENT_ID)
    if existing is not None:
        return Outcome(events=[], result=Nothing())
    event = ExperimentCreated(
        experiment_id=DEFAULT_EXPERIMENT_ID,
        name=DEFAULT_EXPERIMENT_NAME,
        artifact_location=artifact_location_for(ctx.artifact_root, DEFAULT_EXPERIMENT_ID),
        creation_time=ctx.now,
    )
    return Outcome(events=[event], result=ExperimentId(experiment_id=DEFAULT_EXPERIMENT_ID))


def create(cmd: CreateExperiment, ctx: DecideContext) -> Decision:
    name = v.check_experiment_name(cmd.name)
    tags = {t.key: t for t in (_experiment_tag(t, i) for i, t in enumerate(cmd.tags))}
    if cmd.artifact_location:
        v.check_artifact_location(cmd.artifact_location)
    if (yield GetExperimentByName(name, claim=True)) is not None:
        raise AlreadyExists(f"Experiment(name={name}) already exists.")
    experiment_id: str = yield NextExperimentId()
    event = ExperimentCreated(
        experiment_id=experiment_id,
        name=name,
        artifact_location=cmd.artifact_location
        or artifact_location_for(ctx.artifact_root, experiment_id),
        creation_time=ctx.now,
        tags=list(tags.values()),
    )
    events: list[Event] = [event]
    if cmd.owner_id is not None and cmd.owner_name is not None:
        events.append(owner_grant("experiment", experiment_id, cmd.owner_id, cmd.owner_name))
    return Outcome(events=events, result=ExperimentId(experiment_id=experiment_id))


def rename(cmd: RenameExperiment, ctx: DecideContext) -> Decision:
    experiment = yield from existing(cmd.experiment_id, "update")
    if experiment.lifecycle_stage != "active":
        raise InvalidState("Cannot rename a non-active experiment.")
    if cmd.new_name is None or not cmd.new_name.strip():
        raise v.missing("new_name")
    v.check_length(cmd.new_name, v.MAX_EXPERIMENT_NAME_LENGTH, "new_name")
    if cmd.new_name == experiment.name:
        return Outcome(events=[], result=Nothing())
    if (yield GetExperimentByName(cmd.new_name, claim=True)) is not None:
        raise NameConflict(f"Experiment(name={cmd.new_name}) already exists.")
    event = ExperimentRenamed(experiment_id=cmd.experiment_id, name=cmd.new_name, time=ctx.now)
    return Outcome(events=[event], result=Nothing())


def set_tag(cmd: SetExperimentTag, ctx: DecideContext) -> Decision:
    tag = _experiment_tag(TagIn(cmd.key, cmd.value), None)
    yield from active(cmd.experiment_id)
    event = ExperimentTagSet(experiment_id=cmd.experiment_id, key=tag.key, value=tag.value)
    return Outcome(events=[event], result=Nothing())


def delete_tag(cmd: DeleteExperimentTag, ctx: DecideContext) -> Decision:
    key = v.require(cmd.key, "key")
    yield from active(cmd.experiment_id)
    present = yield GetExperimentTags(cmd.experiment_id, [key])
    if key not in present:
        raise NotFound(f"No tag with name: {key} in experiment with id {cmd.experiment_id}")
    event = ExperimentTagDeleted(experiment_id=cmd.experiment_id, key=key)
    return Outcome(events=[event], result=Nothing())


def delete(cmd: DeleteExperiment, ctx: DecideContext) -> Decision:
    # The update lock waits for runs being created in it, so none escapes the cascade.
    experiment = yield from existing(cmd.experiment_id, "update")
    if experiment.lifecycle_stage != "active":
        raise not_found(cmd.experiment_id)
    run_ids: list[str] = yield GetExperimentRuns(cmd.experiment_id, "active")
    events: list[Event] = [ExperimentDeleted(experiment_id=cmd.experiment_id, time=ctx.now)]
    cascade = f"experiment/{cmd.experiment_id}"
    events.extend(RunDeleted(run_id=r, time=ctx.now, cascade=cascade) for r in run_ids)
    return Outcome(events=events, result=Nothing())


def restore(cmd: RestoreExperiment, ctx: DecideContext) -> Decision:
    experiment = yield from existing(cmd.experiment_id, "update")
    if experiment.lifecycle_stage != "deleted":
        raise NotFound(f"No deleted Experiment with id={cmd.experiment_id} exists")
    window_start = ctx.now - ctx.retention_ms
    if experiment.deleted_time is not None and experiment.deleted_time < window_start:
        raise InvalidInput(
            f"Experiment {cmd.experiment_id} was deleted more than "
            f"{ctx.retention_ms // 86_400_000} days ago: it is past the restore window."
        )
    # MLflow restores every run of the experiment, also those deleted one by one before
    # (those still within the restore window).
    run_ids: list[str] = yield GetRunsDeletedSince(cmd.experiment_id, window_start, 10**9)
    events: list[Event] = [ExperimentRestored(experiment_id=cmd.experiment_id, time=ctx.now)]
    events.extend(RunRestored(run_id=run_id, time=ctx.now) for run_id in run_ids)
    return Outcome(events=events, result=Nothing())
