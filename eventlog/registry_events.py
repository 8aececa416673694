"""The model registry's events: one stream per registered model.

A registered model's stream is named by an internal id handed out at creation, never by its
name: a model can be renamed, and a name freed by a delete can be taken again by a new model,
which gets a stream of its own. Everything about the model (its versions, their stages and
tags, its aliases and tags) is an event on that stream, so the stream alone tells the model's
whole story: who registered which version, who moved an alias from one version to another,
when. Deleting a model appends ``RegisteredModelDeleted`` and keeps the stream.

Events carry the already-checked values and, where it helps someone reading the history, what
was there before (``previous_name``, ``previous_version``, ``previous_stage``).
"""

from __future__ import annotations

import msgspec

from trackledger.eventlog.event_base import Event, Tag

__all__ = [
    "REGISTRY_EVENTS",
    "AliasDeleted",
    "AliasSet",
    "ModelVersionCreated",
    "ModelVersionDeleted",
    "ModelVersionStageChanged",
    "ModelVersionTagDeleted",
    "ModelVersionTagSet",
    "ModelVersionUpdated",
    "RegisteredModelCreated",
    "RegisteredModelDeleted",
    "RegisteredModelImported",
    "RegisteredModelRenamed",
    "RegisteredModelTagDeleted",
    "RegisteredModelTagSet",
    "RegisteredModelUpdated",
    "RegistryEvent",
    "SeenAlias",
    "SeenVersion",
    "registered_model_stream",
]

STREAM_PREFIX = "registered_model/"


def registered_model_stream(registered_model_id: str) -> str:
    return f"{STREAM_PREFIX}{registered_model_id}"


class _RegistryEvent(Event, frozen=True, kw_only=True):
    registered_model_id: str

    @property
    def stream(self) -> str:
        return registered_model_stream(self.registered_model_id)


class RegisteredModelCreated(_RegistryEvent, frozen=True, kw_only=True, tag="registry.created"):
    name: str
    time: int
    description: str | None = None
    tags: list[Tag] = []


class RegisteredModelRenamed(_RegistryEvent, frozen=True, kw_only=True, tag="registry.renamed"):
    name: str
    previous_name: str
    time: int


class RegisteredModelUpdated(_RegistryEvent, frozen=True, kw_only=True, tag="registry.updated"):
    description: str | None
    time: int


class RegisteredModelTagSet(_RegistryEvent, frozen=True, kw_only=True, tag="registry.tagged"):
    key: str
    value: str


class RegisteredModelTagDeleted(_RegistryEvent, frozen=True, kw_only=True, tag="registry.untagged"):
    key: str


class RegisteredModelDeleted(_RegistryEvent, frozen=True, kw_only=True, tag="registry.deleted"):
    """Tombstone: the model is gone from the API; its stream stays as its history."""

    name: str
    time: int


class ModelVersionCreated(
    _RegistryEvent, frozen=True, kw_only=True, tag="registry.version_created"
):
    version: int
    time: int
    #: The model's name when the version was registered (for people reading the history).
    name: str
    source: str
    #: Where the files are: ``source`` itself, or what a ``models:/`` source points to.
    storage_location: str
    run_id: str | None = None
    run_link: str | None = None
    description: str | None = None
    #: The logged model (MLflow 3) the version was registered from.
    model_id: str | None = None
    tags: list[Tag] = []


class ModelVersionUpdated(
    _RegistryEvent, frozen=True, kw_only=True, tag="registry.version_updated"
):
    version: int
    description: str | None
    time: int


class ModelVersionStageChanged(
    _RegistryEvent, frozen=True, kw_only=True, tag="registry.version_stage_changed"
):
    version: int
    stage: str
    previous_stage: str
    time: int
    #: Versions moved to "Archived" by the same transition (archive_existing_versions).
    archived: list[int] = []


class ModelVersionDeleted(
    _RegistryEvent, frozen=True, kw_only=True, tag="registry.version_deleted"
):
    version: int
    time: int
    #: The aliases that pointed at the version: a delete removes them too.
    aliases: list[str] = []


class ModelVersionTagSet(_RegistryEvent, frozen=True, kw_only=True, tag="registry.version_tagged"):
    version: int
    key: str
    value: str


class ModelVersionTagDeleted(
    _RegistryEvent, frozen=True, kw_only=True, tag="registry.version_untagged"
):
    version: int
    key: str


class AliasSet(_RegistryEvent, frozen=True, kw_only=True, tag="registry.alias_set"):
    alias: str
    version: int
    #: The version the alias pointed at before, if it existed.
    previous_version: int | None = None


class AliasDeleted(_RegistryEvent, frozen=True, kw_only=True, tag="registry.alias_deleted"):
    alias: str
    previous_version: int | None = None


class SeenVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A version as the source held it at an import."""

    version: int
    stage: str
    last_updated_time: int | None = None
    description: str | None = None
    tags: list[Tag] = []


class SeenAlias(msgspec.Struct, frozen=True, array_like=True):
    alias: str
    version: int


class RegisteredModelImported(_RegistryEvent, frozen=True, kw_only=True, tag="registry.imported"):
    """The model came (or came again) from another tracking server or its database:
    ``source`` names it (without credentials), ``source_id`` is the model's name there. The
    other fields are what the source held at that import, which the next import compares
    with (see ``events.ExperimentImported``); the times are MLflow's last updates."""

    source: str
    source_id: str
    imported_at: int
    name: str
    description: str | None = None
    last_updated_time: int | None = None
    tags: list[Tag] = []
    aliases: list[SeenAlias] = []
    versions: list[SeenVersion] = []


REGISTRY_EVENTS = (
    RegisteredModelCreated,
    RegisteredModelRenamed,
    RegisteredModelUpdated,
    RegisteredModelTagSet,
    RegisteredModelTagDeleted,
    RegisteredModelDeleted,
    ModelVersionCreated,
    ModelVersionUpdated,
    ModelVersionStageChanged,
    ModelVersionDeleted,
    ModelVersionTagSet,
    ModelVersionTagDeleted,
    AliasSet,
    AliasDeleted,
    RegisteredModelImported,
)

RegistryEvent = (
    RegisteredModelCreated
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
