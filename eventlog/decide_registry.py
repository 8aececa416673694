"""Decisions for registered models: create, rename, update, delete, tags and aliases
(MLflow's rules: mlflow/store/model_registry/sqlalchemy_store.py and server/handlers.py).

Every decision about an existing model reads it with the ``update`` lock: on PostgreSQL the
commands about one model run one after the other, so version numbers, aliases and stages are
decided on what the previous command left.
"""

from __future__ import annotations

import uuid

from trackledger.eventlog import registry_validation as rv
from trackledger.eventlog import validation as v
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.errors import AlreadyExists, NotFound
from trackledger.eventlog.lookups import Ask, Decision, Outcome
from trackledger.eventlog.registry_commands import (
    CreateRegisteredModel,
    DeleteRegisteredModel,
    DeleteRegisteredModelAlias,
    DeleteRegisteredModelTag,
    RenameRegisteredModel,
    SetRegisteredModelAlias,
    SetRegisteredModelTag,
    UpdateRegisteredModel,
)
from trackledger.eventlog.registry_events import (
    AliasDeleted,
    AliasSet,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagSet,
    RegisteredModelUpdated,
)
from trackledger.eventlog.registry_lookups import (
    GetAliases,
    GetModelVersion,
    GetRegisteredModel,
    GetRegisteredModelTags,
    ModelVersionState,
    RegisteredModelState,
)
from trackledger.eventlog.results import Nothing, RegisteredModelRef

__all__ = [
    "create",
    "delete",
    "delete_alias",
    "delete_tag",
    "existing",
    "existing_version",
    "rename",
    "set_alias",
    "set_tag",
    "update",
    "version_not_found",
]


def not_found(name: str) -> NotFound:
    return NotFound(f"Registered Model with name={name} not found")


def version_not_found(name: str, version: int) -> NotFound:
    return NotFound(f"Model Version (name={name}, version={version}) not found")


def existing(name: str | None, lock: str = "update") -> Ask[RegisteredModelState]:
    """The model now called ``name``."""
    checked = rv.check_model_name(name)
    model: RegisteredModelState | None = yield GetRegisteredModel(checked, lock)
    if model is None:
        raise not_found(checked)
    return model


def existing_version(
    name: str | None, version: str | None, lock: str = "update"
) -> Ask[tuple[RegisteredModelState, ModelVersionState]]:
    """The model called ``name`` and its (not deleted) version ``version``; MLflow says the
    version is not found whether the model or only the version is missing."""
    checked = rv.check_model_name(name)
    number = rv.check_version(version)
    model: RegisteredModelState | None = yield GetRegisteredModel(checked, lock)
    if model is None:
        raise version_not_found(checked, number)
    found: ModelVersionState | None = yield GetModelVersion(model.registered_model_id, number)
    if found is None or found.current_stage == rv.DELETED_STAGE:
        raise version_not_found(checked, number)
    return model, found


def _already_exists(name: str, existing_is_prompt: bool, new_is_prompt: bool) -> AlreadyExists:
    old = "Prompt" if existing_is_prompt else "Registered Model"
    new = "Prompt" if new_is_prompt else "Registered Model"
    if old != new:
        return AlreadyExists(
            f"Tried to create a {new.lower()} with name {name!r}, but the name is already taken "
            f"by a {old.lower()}. MLflow does not allow creating a model and a prompt with the "
            "same name."
        )
    return AlreadyExists(f"{new} (name={name}) already exists.")


def create(cmd: CreateRegisteredModel, ctx: DecideContext) -> Decision:
    name = rv.check_model_name(cmd.name)
    tags = rv.check_tags(cmd.tags)
    taken: RegisteredModelState | None = yield GetRegisteredModel(name, claim=True)
    if taken is not None:
        raise _already_exists(name, taken.is_prompt, any(t.key == rv.IS_PROMPT_TAG for t in tags))
    model_id = uuid.uuid4().hex
    event = RegisteredModelCreated(
        registered_model_id=model_id,
        name=name,
        time=ctx.now,
        description=cmd.description,
        tags=tags,
    )
    return Outcome(events=[event], result=RegisteredModelRef(registered_model_id=model_id))


def rename(cmd: RenameRegisteredModel, ctx: DecideContext) -> Decision:
    if cmd.new_name is None or cmd.new_name.strip() == "":
        raise v.missing("new_name")
    new_name = rv.check_model_name(cmd.new_name)
    model = yield from existing(cmd.name)
    if new_name != model.name:
        taken = yield GetRegisteredModel(new_name, claim=True)
        if taken is not None:
            raise AlreadyExists(f"Registered Model (name={new_name}) already exists.")
    event = RegisteredModelRenamed(
        registered_model_id=model.registered_model_id,
        name=new_name,
        previous_name=model.name,
        time=ctx.now,
    )
    return Outcome(
        events=[event], result=RegisteredModelRef(registered_model_id=model.registered_model_id)
    )


def update(cmd: UpdateRegisteredModel, ctx: DecideContext) -> Decision:
    model = yield from existing(cmd.name)
    event = RegisteredModelUpdated(
        registered_model_id=model.registered_model_id, description=cmd.description, time=ctx.now
    )
    return Outcome(
        events=[event], result=RegisteredModelRef(registered_model_id=model.registered_model_id)
    )


def delete(cmd: DeleteRegisteredModel, ctx: DecideContext) -> Decision:
    model = yield from existing(cmd.name)
    event = RegisteredModelDeleted(
        registered_model_id=model.registered_model_id, name=model.name, time=ctx.now
    )
    return Outcome(events=[event], result=Nothing())


def set_tag(cmd: SetRegisteredModelTag, ctx: DecideContext) -> Decision:
    rv.check_model_name(cmd.name)
    tag = rv.check_tag(cmd.key, cmd.value)
    model = yield from existing(cmd.name)
    event = RegisteredModelTagSet(
        registered_model_id=model.registered_model_id, key=tag.key, value=tag.value
    )
    return Outcome(events=[event], result=Nothing())


def delete_tag(cmd: DeleteRegisteredModelTag, ctx: DecideContext) -> Decision:
    rv.check_model_name(cmd.name)
    key = rv.check_tag_key(cmd.key)
    model = yield from existing(cmd.name)
    present = yield GetRegisteredModelTags(model.registered_model_id, [key])
    if key not in present:  # MLflow answers 200 and changes nothing
        return Outcome(events=[], result=Nothing())
    event = RegisteredModelTagDeleted(registered_model_id=model.registered_model_id, key=key)
    return Outcome(events=[event], result=Nothing())


def set_alias(cmd: SetRegisteredModelAlias, ctx: DecideContext) -> Decision:
    rv.check_model_name(cmd.name)
    alias = rv.check_alias(cmd.alias)
    rv.check_alias_not_reserved(alias)
    rv.check_version(cmd.version)
    model, found = yield from existing_version(cmd.name, cmd.version)
    aliases: dict[str, int] = yield GetAliases(model.registered_model_id)
    previous = aliases.get(alias)
    if previous == found.version:
        return Outcome(events=[], result=Nothing())
    event = AliasSet(
        registered_model_id=model.registered_model_id,
        alias=alias,
        version=found.version,
        previous_version=previous,
    )
    return Outcome(events=[event], result=Nothing())


def delete_alias(cmd: DeleteRegisteredModelAlias, ctx: DecideContext) -> Decision:
    rv.check_model_name(cmd.name)
    alias = rv.check_alias(cmd.alias)
    model = yield from existing(cmd.name)
    aliases: dict[str, int] = yield GetAliases(model.registered_model_id)
    if alias not in aliases:  # MLflow answers 200 and changes nothing
        return Outcome(events=[], result=Nothing())
    event = AliasDeleted(
        registered_model_id=model.registered_model_id,
        alias=alias,
        previous_version=aliases[alias],
    )
    return Outcome(events=[event], result=Nothing())
