"""Turn a registry event into the row changes it makes (the registry's half of ``changes.py``).

Merges that do not depend on the order events arrive in (``registry_merge.py``):

- a model's name, a model's or version's description and a version's stage: last writer wins,
  by the log position that wrote them;
- times: the largest (a rename also moves every version's last update time, as MLflow does; a
  version registered before a rename that is applied after it takes the rename's time from the
  model row);
- the highest version number handed out: the largest;
- tags and aliases: last writer wins per key, a delete writing a positioned tombstone;
- a model's deletion: the first and only one; rows stay, marked.
"""

from __future__ import annotations

import msgspec

from trackledger.eventlog import registry_events as r

__all__ = [
    "FloorVersion",
    "RegistryChange",
    "SetAliases",
    "SetModelVersion",
    "SetModelVersionTags",
    "SetRegisteredModel",
    "SetRegisteredModelTags",
    "TouchVersions",
    "registry_changes_for",
]

ARCHIVED = "Archived"
DELETED = "Deleted_Internal"


class SetRegisteredModel(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    pos: int
    name: str | None = None
    creation_time: int | None = None
    last_updated_time: int | None = None
    #: Whether this change sets the description (to ``description``, which may be None).
    sets_description: bool = False
    description: str | None = None
    renamed_time: int | None = None
    max_version: int = 0
    deleted_time: int | None = None


class SetRegisteredModelTags(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    pos: int
    tags: list[tuple[str, str | None]]


class SetAliases(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    pos: int
    aliases: list[tuple[str, int | None]]


class SetModelVersion(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    version: int
    pos: int
    creation_time: int | None = None
    last_updated_time: int | None = None
    current_stage: str | None = None
    sets_description: bool = False
    description: str | None = None
    source: str | None = None
    storage_location: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    status: str | None = None


class SetModelVersionTags(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    version: int
    pos: int
    tags: list[tuple[str, str | None]]


class TouchVersions(msgspec.Struct, frozen=True, kw_only=True):
    """Every version of the model was updated at ``time`` (a rename)."""

    registered_model_id: str
    time: int


class FloorVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A new version's last update is at least the model's latest rename."""

    registered_model_id: str
    version: int


RegistryChange = (
    SetRegisteredModel
    | SetRegisteredModelTags
    | SetAliases
    | SetModelVersion
    | SetModelVersionTags
    | TouchVersions
    | FloorVersion
)


def _model(
    event: r.ModelVersionCreated | r.ModelVersionStageChanged | r.ModelVersionDeleted,
    pos: int,
    time: int,
) -> SetRegisteredModel:
    return SetRegisteredModel(
        registered_model_id=event.registered_model_id, pos=pos, last_updated_time=time
    )


def registry_changes_for(event: r.RegistryEvent, pos: int) -> list[RegistryChange]:  # noqa: C901 - one case per event
    """The row changes the registry event at log position ``pos`` makes."""
    rm = event.registered_model_id
    match event:
        case r.RegisteredModelCreated():
            return [
                SetRegisteredModel(
                    registered_model_id=rm,
                    pos=pos,
                    name=event.name,
                    creation_time=event.time,
                    last_updated_time=event.time,
                    sets_description=True,
                    description=event.description,
                ),
                SetRegisteredModelTags(
                    registered_model_id=rm, pos=pos, tags=[(t.key, t.value) for t in event.tags]
                ),
            ]
        case r.RegisteredModelRenamed():
            return [
                SetRegisteredModel(
                    registered_model_id=rm,
                    pos=pos,
                    name=event.name,
                    last_updated_time=event.time,
                    renamed_time=event.time,
                ),
                TouchVersions(registered_model_id=rm, time=event.time),
            ]
        case r.RegisteredModelUpdated():
            return [
                SetRegisteredModel(
                    registered_model_id=rm,
                    pos=pos,
                    last_updated_time=event.time,
                    sets_description=True,
                    description=event.description,
                )
            ]
        case r.RegisteredModelTagSet():
            return [
                SetRegisteredModelTags(
                    registered_model_id=rm, pos=pos, tags=[(event.key, event.value)]
                )
            ]
        case r.RegisteredModelTagDeleted():
            return [
                SetRegisteredModelTags(registered_model_id=rm, pos=pos, tags=[(event.key, None)])
            ]
        case r.RegisteredModelDeleted():
            return [SetRegisteredModel(registered_model_id=rm, pos=pos, deleted_time=event.time)]
        case r.ModelVersionCreated():
            return [
                SetModelVersion(
                    registered_model_id=rm,
                    version=event.version,
                    pos=pos,
                    creation_time=event.time,
                    last_updated_time=event.time,
                    current_stage="None",
                    sets_description=True,
                    description=event.description,
                    source=event.source,
                    storage_location=event.storage_location,
                    run_id=event.run_id,
                    run_link=event.run_link,
                    model_id=event.model_id,
                    status="READY",
                ),
                SetModelVersionTags(
                    registered_model_id=rm,
                    version=event.version,
                    pos=pos,
                    tags=[(t.key, t.value) for t in event.tags],
                ),
                SetRegisteredModel(
                    registered_model_id=rm,
                    pos=pos,
                    last_updated_time=event.time,
                    max_version=event.version,
                ),
                FloorVersion(registered_model_id=rm, version=event.version),
            ]
        case r.ModelVersionUpdated():
            return [
                SetModelVersion(
                    registered_model_id=rm,
                    version=event.version,
                    pos=pos,
                    last_updated_time=event.time,
                    sets_description=True,
                    description=event.description,
                )
            ]
        case r.ModelVersionStageChanged():
            moved: list[RegistryChange] = [
                SetModelVersion(
                    registered_model_id=rm,
                    version=number,
                    pos=pos,
                    last_updated_time=event.time,
                    current_stage=ARCHIVED,
                )
                for number in event.archived
            ]
            return [
                *moved,
                SetModelVersion(
                    registered_model_id=rm,
                    version=event.version,
                    pos=pos,
                    last_updated_time=event.time,
                    current_stage=event.stage,
                ),
                _model(event, pos, event.time),
            ]
        case r.ModelVersionDeleted():
            return [
                SetModelVersion(
                    registered_model_id=rm,
                    version=event.version,
                    pos=pos,
                    last_updated_time=event.time,
                    current_stage=DELETED,
                ),
                SetAliases(
                    registered_model_id=rm, pos=pos, aliases=[(a, None) for a in event.aliases]
                ),
                _model(event, pos, event.time),
            ]
        case r.ModelVersionTagSet():
            return [
                SetModelVersionTags(
                    registered_model_id=rm,
                    version=event.version,
                    pos=pos,
                    tags=[(event.key, event.value)],
                )
            ]
        case r.ModelVersionTagDeleted():
            return [
                SetModelVersionTags(
                    registered_model_id=rm, version=event.version, pos=pos, tags=[(event.key, None)]
                )
            ]
        case r.AliasSet():
            return [
                SetAliases(registered_model_id=rm, pos=pos, aliases=[(event.alias, event.version)])
            ]
        case r.AliasDeleted():
            return [SetAliases(registered_model_id=rm, pos=pos, aliases=[(event.alias, None)])]
        case r.RegisteredModelImported():
            # MLflow's last updates, which no other imported event carries.
            return [
                SetRegisteredModel(
                    registered_model_id=rm, pos=pos, last_updated_time=event.last_updated_time
                ),
                *(
                    SetModelVersion(
                        registered_model_id=rm,
                        version=v.version,
                        pos=pos,
                        last_updated_time=v.last_updated_time,
                    )
                    for v in event.versions
                ),
            ]
    raise TypeError(f"no projection for event {type(event).__name__}")
