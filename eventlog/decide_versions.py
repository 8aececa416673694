"""Decisions for model versions: create (with MLflow 3.17's source rules), update, stage
transitions, delete and tags.

Registering a version from a logged model (``model_id``) also records the version on the
logged model, in its ``mlflow.modelVersions`` tag (an event on the logged model's stream), as
MLflow's server does.
"""

from __future__ import annotations

import json
import urllib.parse

from trackledger.eventlog import model_sources as ms
from trackledger.eventlog import registry_validation as rv
from trackledger.eventlog import validation as v
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.decide_registry import existing, existing_version
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.eventlog.event_base import Event, Tag
from trackledger.eventlog.events import LoggedModelTagged
from trackledger.eventlog.lookups import (
    Ask,
    Decision,
    GetLoggedModel,
    GetRun,
    LoggedModelState,
    Outcome,
    RunState,
)
from trackledger.eventlog.registry_commands import (
    CreateModelVersion,
    DeleteModelVersion,
    DeleteModelVersionTag,
    SetModelVersionTag,
    TransitionModelVersionStage,
    UpdateModelVersion,
)
from trackledger.eventlog.registry_events import (
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageChanged,
    ModelVersionTagDeleted,
    ModelVersionTagSet,
    ModelVersionUpdated,
)
from trackledger.eventlog.registry_lookups import (
    GetAliases,
    GetLatestVersions,
    GetLoggedModelTags,
    GetModelVersionTags,
    GetRegisteredModel,
    GetVersionsInStage,
    RegisteredModelState,
)
from trackledger.eventlog.results import ModelVersionRef, Nothing

__all__ = ["create", "delete", "delete_tag", "set_tag", "transition", "update"]

MODEL_VERSIONS_TAG = "mlflow.modelVersions"
#: Run ids are 32 characters; a longer one is not a run of any MLflow server (MLflow's column
#: holds 32), and an index entry must stay small.
MAX_RUN_ID_LENGTH = 256
_LOCAL_RUN = (
    "Invalid model version source: '{source}'. To use a local path as a model version source, "
    "the run_id request parameter has to be specified and the local path has to be contained "
    "within the artifact directory of the run specified by the run_id."
)
_LOCAL_MODEL = (
    "Invalid model version source: '{source}'. To use a local path as a model version source, "
    "the model_id request parameter has to be specified and the local path has to be contained "
    "within the artifact directory of the run specified by the model_id."
)


def _scheme(source: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(source)
    return parsed.scheme, parsed.netloc


def _parse_source(source: str) -> ms.ParsedModelUri:
    try:
        return ms.parse_models_uri(source)
    except InvalidInput:
        raise ms.invalid_source(source, "model_id") from None


def _logged_model(model_id: str) -> Ask[LoggedModelState | None]:
    found: LoggedModelState | None = yield GetLoggedModel(model_id)
    return found if found is not None and found.lifecycle_stage == "active" else None


def _latest(model: RegisteredModelState, stage: str | None) -> Ask[int]:
    latest: dict[str, int] = yield GetLatestVersions(model.registered_model_id)
    if stage is not None:
        found = latest.get(rv.canonical_stage(stage))
        if found is None:
            raise NotFound(
                f"No versions of model with name '{model.name}' and stage '{stage}' found"
            )
        return found
    if not latest:
        raise NotFound(f"No versions of model with name '{model.name}' found")
    return max(latest.values())


def _resolve(model: RegisteredModelState, parsed: ms.ParsedModelUri) -> Ask[int]:
    """The version a ``models:/name/...`` URI means: a number, an alias, a stage, the latest."""
    if parsed.version is not None:
        return int(parsed.version)
    if parsed.alias is not None:
        if parsed.alias.lower() == "latest":
            return (yield from _latest(model, None))
        aliases: dict[str, int] = yield GetAliases(model.registered_model_id)
        if parsed.alias not in aliases:
            raise InvalidInput(f"Registered model alias {parsed.alias} not found.")
        return aliases[parsed.alias]
    return (yield from _latest(model, parsed.stage))


def _lineage(
    source: str, run_id: str | None, model_id: str | None, given: tuple[bool, bool]
) -> Ask[tuple[str, str | None, str | None]]:
    """A ``models:/name/...`` source becomes ``models:/name/<version>``, and the version's run
    and logged model are taken over; those sent along (``given``: run_id, model_id) must match
    them."""
    scheme, netloc = _scheme(source)
    if scheme != "models":
        return source, run_id, model_id
    if netloc:
        raise InvalidInput(
            f"Invalid model version source: '{source}'. Registered model sources must use the "
            "active model registry."
        )
    parsed = _parse_source(source)
    if parsed.model_id is not None:
        return source, run_id, model_id
    assert parsed.name is not None
    found: RegisteredModelState | None = yield GetRegisteredModel(parsed.name)
    if found is None:
        raise NotFound(f"Registered Model with name={parsed.name} not found")
    if found.is_prompt:
        raise InvalidInput(
            f"Invalid model version source: '{source}'. Prompt versions cannot be used as model "
            "version sources."
        )
    number = yield from _resolve(found, parsed)
    _, version = yield from existing_version(parsed.name, str(number), lock="share")
    has_run, has_model = given
    if (has_run and (run_id or "") != (version.run_id or "")) or (
        has_model and (model_id or "") != (version.model_id or "")
    ):
        raise InvalidInput(
            f"Invalid model version source: '{source}'. The run_id and model_id request "
            "parameters must match the referenced model version."
        )
    return (
        f"models:/{parsed.name}/{version.version}",
        run_id if has_run else version.run_id,
        model_id if has_model else version.model_id,
    )


def _check_run_source(source: str, run_id: str | None) -> Ask[None]:
    """MLflow's ``_validate_source_run``."""
    if ms.is_local(source):
        if run_id and (yield GetRun(run_id)) is None:
            raise ms.invalid_source(source, "run_id")
        # A run's artifacts are behind this server (mlflow-artifacts:/), never a local path.
        raise InvalidInput(_LOCAL_RUN.format(source=source))
    ms.check_relative_paths(source)
    scheme, netloc = _scheme(source)
    if scheme == "runs":
        if not netloc and run_id and ms.runs_uri_run_id(source) == run_id:
            return
        raise ms.invalid_source(source, "run_id")
    if scheme == "models":
        if netloc or _parse_source(source).model_id is not None:
            raise ms.invalid_source(source, "model_id")
    if ms.is_artifact_source(source):
        if run_id:
            run: RunState | None = yield GetRun(run_id)
            if run is not None and ms.is_within(source, run.artifact_uri):
                return
        raise ms.invalid_source(source, "run_id")


def _check_model_source(source: str, model_id: str) -> Ask[None]:
    """MLflow's ``_validate_source_model``."""
    if ms.is_local(source):
        if (yield from _logged_model(model_id)) is None:
            raise ms.invalid_source(source, "model_id")
        raise InvalidInput(_LOCAL_MODEL.format(source=source))
    ms.check_relative_paths(source)
    scheme, netloc = _scheme(source)
    if scheme == "models":
        if netloc:
            raise ms.invalid_source(source, "model_id")
        source_model = _parse_source(source).model_id
        if source_model is not None:
            if source_model == model_id:
                return
            raise ms.invalid_source(source, "model_id")
    if scheme == "runs":
        raise ms.invalid_source(source, "model_id")
    if ms.is_artifact_source(source):
        model = yield from _logged_model(model_id)
        if model is not None and ms.is_within(source, model.artifact_location):
            return
        raise ms.invalid_source(source, "model_id")


def _storage(source: str, run_id: str | None, model_id: str | None) -> Ask[tuple[str, str | None]]:
    """Where the version's files are, and its run (a logged model's run when none is given)."""
    storage = source
    if _scheme(source)[0] == "models":
        parsed = _parse_source(source)
        unable = InvalidInput(
            f"Unable to fetch model from model URI source artifact location '{source}'."
        )
        if parsed.model_id is not None:
            model = yield from _logged_model(parsed.model_id)
            if model is None:
                raise unable
            storage = model.artifact_location
            run_id = run_id or model.source_run_id
        else:
            assert parsed.name is not None and parsed.version is not None
            try:
                _, version = yield from existing_version(parsed.name, parsed.version, "share")
            except NotFound:
                raise unable from None
            storage = version.storage_location or version.source
    if not run_id and model_id:
        model = yield from _logged_model(model_id)
        if model is None:
            raise NotFound(f"Logged model with ID '{model_id}' not found.")
        run_id = model.source_run_id
    return storage, run_id


def _record_on_logged_model(
    model_id: str, name: str, version: int, ctx: DecideContext
) -> Ask[Event]:
    """The logged model's ``mlflow.modelVersions`` tag with this version added."""
    if (yield from _logged_model(model_id)) is None:
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    tags: dict[str, str] = yield GetLoggedModelTags(model_id, [MODEL_VERSIONS_TAG], "update")
    entry = {"name": name, "version": version}
    versions: list[object] = [entry]
    if existing_value := tags.get(MODEL_VERSIONS_TAG):
        try:
            recorded = json.loads(existing_value)
        except ValueError:
            recorded = []
        if isinstance(recorded, list) and entry not in recorded:
            versions = recorded + versions
    tag = Tag(MODEL_VERSIONS_TAG, json.dumps(versions))
    return LoggedModelTagged(model_id=model_id, tags=[tag], time=ctx.now)


def create(cmd: CreateModelVersion, ctx: DecideContext) -> Decision:
    name = rv.check_model_name(cmd.name)
    source = v.require(cmd.source, "source")
    tags = rv.check_tags(cmd.tags)
    prompt = rv.is_prompt({t.key: t.value for t in tags})
    if prompt and source not in rv.PROMPT_SOURCES:
        raise InvalidInput(
            f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
        )
    ms.check_host(source)
    if cmd.run_id:
        v.check_length(cmd.run_id, MAX_RUN_ID_LENGTH, "run_id")
    # MLflow reads an absent run_id or model_id as "", and tells absent from given apart
    # only where a models:/ source is resolved.
    given = (cmd.run_id is not None, cmd.model_id is not None)
    run_id: str | None = cmd.run_id or ""
    model_id: str | None = cmd.model_id or ""
    if not prompt:
        source, run_id, model_id = yield from _lineage(source, run_id, model_id, given)
        if model_id:
            yield from _check_model_source(source, model_id)
        else:
            yield from _check_run_source(source, run_id)
    model = yield from existing(name)
    storage, run_id = yield from _storage(source, run_id, model_id)
    number = model.max_version + 1
    events: list[Event] = [
        ModelVersionCreated(
            registered_model_id=model.registered_model_id,
            version=number,
            time=ctx.now,
            name=model.name,
            source=source,
            storage_location=storage,
            run_id=run_id,
            run_link=cmd.run_link or "",
            description=cmd.description or "",
            model_id=model_id or None,
            tags=tags,
        )
    ]
    if model_id and not prompt:
        events.append((yield from _record_on_logged_model(model_id, name, number, ctx)))
    result = ModelVersionRef(registered_model_id=model.registered_model_id, version=number)
    return Outcome(events=events, result=result)


def update(cmd: UpdateModelVersion, ctx: DecideContext) -> Decision:
    model, found = yield from existing_version(cmd.name, cmd.version)
    event = ModelVersionUpdated(
        registered_model_id=model.registered_model_id,
        version=found.version,
        description=cmd.description,
        time=ctx.now,
    )
    result = ModelVersionRef(registered_model_id=model.registered_model_id, version=found.version)
    return Outcome(events=[event], result=result)


def transition(cmd: TransitionModelVersionStage, ctx: DecideContext) -> Decision:
    stage = rv.canonical_stage(v.require(cmd.stage, "stage"))
    if cmd.archive_existing_versions and stage not in rv.ACTIVE_STAGES:
        raise InvalidInput(
            "Model version transition cannot archive existing model versions because "
            f"'{cmd.stage}' is not an Active stage. Valid stages are {list(rv.ACTIVE_STAGES)}"
        )
    model, found = yield from existing_version(cmd.name, cmd.version)
    archived: list[int] = []
    if cmd.archive_existing_versions:
        in_stage: list[int] = yield GetVersionsInStage(model.registered_model_id, stage)
        archived = [number for number in in_stage if number != found.version]
    event = ModelVersionStageChanged(
        registered_model_id=model.registered_model_id,
        version=found.version,
        stage=stage,
        previous_stage=found.current_stage,
        time=ctx.now,
        archived=archived,
    )
    result = ModelVersionRef(registered_model_id=model.registered_model_id, version=found.version)
    return Outcome(events=[event], result=result)


def delete(cmd: DeleteModelVersion, ctx: DecideContext) -> Decision:
    rv.check_version(cmd.version)
    model, found = yield from existing_version(cmd.name, cmd.version)
    aliases: dict[str, int] = yield GetAliases(model.registered_model_id)
    event = ModelVersionDeleted(
        registered_model_id=model.registered_model_id,
        version=found.version,
        time=ctx.now,
        aliases=sorted(alias for alias, number in aliases.items() if number == found.version),
    )
    return Outcome(events=[event], result=Nothing())


def set_tag(cmd: SetModelVersionTag, ctx: DecideContext) -> Decision:
    rv.check_model_name(cmd.name)
    rv.check_version(cmd.version)
    tag = rv.check_tag(cmd.key, cmd.value)
    model, found = yield from existing_version(cmd.name, cmd.version)
    event = ModelVersionTagSet(
        registered_model_id=model.registered_model_id,
        version=found.version,
        key=tag.key,
        value=tag.value,
    )
    return Outcome(events=[event], result=Nothing())


def delete_tag(cmd: DeleteModelVersionTag, ctx: DecideContext) -> Decision:
    rv.check_model_name(cmd.name)
    rv.check_version(cmd.version)
    key = rv.check_tag_key(cmd.key)
    model, found = yield from existing_version(cmd.name, cmd.version)
    present = yield GetModelVersionTags(model.registered_model_id, found.version, [key])
    if key not in present:  # MLflow answers 200 and changes nothing
        return Outcome(events=[], result=Nothing())
    event = ModelVersionTagDeleted(
        registered_model_id=model.registered_model_id, version=found.version, key=key
    )
    return Outcome(events=[event], result=Nothing())
