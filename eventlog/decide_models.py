"""Decisions for logged models (MLflow 3.x), run outputs and artifact records."""

from __future__ import annotations

import re
import uuid

from trackledger.eventlog import validation as v
from trackledger.eventlog.commands import (
    CreateLoggedModel,
    DeleteLoggedModel,
    DeleteLoggedModelTag,
    FinalizeLoggedModel,
    LogLoggedModelParams,
    LogOutputs,
    ParamIn,
    RecordArtifact,
    SetLoggedModelTags,
    TagIn,
)
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.decide_experiments import active as active_experiment
from trackledger.eventlog.decide_runs import active as active_run
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.eventlog.events import (
    LoggedModelCreated,
    LoggedModelDeleted,
    LoggedModelFinalized,
    LoggedModelParamsLogged,
    LoggedModelTagDeleted,
    LoggedModelTagged,
    Param,
    RunArtifactLogged,
    RunOutputsLogged,
    Tag,
)
from trackledger.eventlog.lookups import (
    Ask,
    Decision,
    GetLoggedModel,
    GetRun,
    LoggedModelState,
    Outcome,
)
from trackledger.eventlog.names import random_run_name
from trackledger.eventlog.registry_lookups import GetLoggedModelTags
from trackledger.eventlog.results import ModelId, Nothing

STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
_BAD_NAME = re.compile(r"[/:.%\"']")


def _existing(model_id: str, *, allow_deleted: bool = False) -> Ask[LoggedModelState]:
    model: LoggedModelState | None = yield GetLoggedModel(model_id)
    if model is None or (model.lifecycle_stage != "active" and not allow_deleted):
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    return model


def _tags(tags: list[TagIn]) -> list[Tag]:
    out = {}
    for i, tag in enumerate(tags):
        key = v.require(tag.key, f"tags[{i}].key")
        v.check_length(key, v.MAX_ENTITY_KEY_LENGTH, f"tags[{i}].key")
        out[key] = Tag(key, v.truncate(tag.value or "", v.MAX_TAG_VALUE_LENGTH))
    return list(out.values())


def _params(params: list[ParamIn]) -> list[Param]:
    out = {}
    for i, param in enumerate(params):
        key = v.require(param.key, f"params[{i}].key")
        v.check_length(key, v.MAX_ENTITY_KEY_LENGTH, f"params[{i}].key")
        out[key] = Param(key, v.truncate(param.value or "", v.MAX_PARAM_VALUE_LENGTH))
    return list(out.values())


def create(cmd: CreateLoggedModel, ctx: DecideContext) -> Decision:
    name = cmd.name or random_run_name()
    if _BAD_NAME.search(name):
        raise InvalidInput(f"Invalid model name {name!r}: names may not contain / : . % \" or '")
    tags, params = _tags(cmd.tags), _params(cmd.params)
    experiment = yield from active_experiment(cmd.experiment_id)
    model_id = f"m-{uuid.uuid4().hex}"
    event = LoggedModelCreated(
        model_id=model_id,
        experiment_id=experiment.experiment_id,
        name=name,
        artifact_location=f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
        creation_time=ctx.now,
        source_run_id=cmd.source_run_id or None,
        model_type=cmd.model_type or None,
        params=params,
        tags=tags,
    )
    return Outcome(events=[event], result=ModelId(model_id=model_id))


def finalize(cmd: FinalizeLoggedModel, ctx: DecideContext) -> Decision:
    if cmd.status not in STATUSES:
        raise InvalidInput(f"Invalid value {cmd.status!r} for parameter 'status' supplied.")
    yield from _existing(cmd.model_id)
    event = LoggedModelFinalized(model_id=cmd.model_id, status=cmd.status, time=ctx.now)
    return Outcome(events=[event], result=ModelId(model_id=cmd.model_id))


def set_tags(cmd: SetLoggedModelTags, ctx: DecideContext) -> Decision:
    tags = _tags(cmd.tags)
    yield from _existing(cmd.model_id)
    event = LoggedModelTagged(model_id=cmd.model_id, tags=tags, time=ctx.now)
    return Outcome(events=[event] if tags else [], result=Nothing())


def delete_tag(cmd: DeleteLoggedModelTag, ctx: DecideContext) -> Decision:
    yield from _existing(cmd.model_id)
    present = yield GetLoggedModelTags(cmd.model_id, [cmd.key], lock="update")
    if cmd.key not in present:
        raise NotFound(f"No tag with key {cmd.key!r} found for model with ID {cmd.model_id!r}.")
    event = LoggedModelTagDeleted(model_id=cmd.model_id, key=cmd.key, time=ctx.now)
    return Outcome(events=[event], result=Nothing())


def log_params(cmd: LogLoggedModelParams, ctx: DecideContext) -> Decision:
    params = _params(cmd.params)
    yield from _existing(cmd.model_id)
    event = LoggedModelParamsLogged(model_id=cmd.model_id, params=params, time=ctx.now)
    return Outcome(events=[event] if params else [], result=Nothing())


def delete(cmd: DeleteLoggedModel, ctx: DecideContext) -> Decision:
    yield from _existing(cmd.model_id)
    return Outcome(
        events=[LoggedModelDeleted(model_id=cmd.model_id, time=ctx.now)], result=Nothing()
    )


def log_outputs(cmd: LogOutputs, ctx: DecideContext) -> Decision:
    if not cmd.models:
        raise v.missing("models")
    yield from active_run(cmd.run_id)
    for output in cmd.models:
        yield from _existing(output.model_id)
    event = RunOutputsLogged(run_id=cmd.run_id, models=cmd.models)
    return Outcome(events=[event], result=Nothing())


def record_artifact(cmd: RecordArtifact, ctx: DecideContext) -> Decision:
    # MLflow stores artifacts for any path; only files under a known run go in its history.
    if (yield GetRun(cmd.run_id)) is None:
        return Outcome(events=[], result=Nothing())
    event = RunArtifactLogged(run_id=cmd.run_id, path=cmd.path, size=cmd.size, sha256=cmd.sha256)
    return Outcome(events=[event], result=Nothing())
