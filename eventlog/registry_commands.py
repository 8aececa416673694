"""Commands of the model registry, as the API decoded them (types checked, rules not yet).

Models are named by their name, as in MLflow's API; versions by the version text the client
sent (MLflow refuses one that is not an integer, with its own wording, in the decision).
"""

from __future__ import annotations

from trackledger.eventlog.command_base import Command, TagIn

__all__ = [
    "CreateModelVersion",
    "CreateRegisteredModel",
    "DeleteModelVersion",
    "DeleteModelVersionTag",
    "DeleteRegisteredModel",
    "DeleteRegisteredModelAlias",
    "DeleteRegisteredModelTag",
    "RenameRegisteredModel",
    "SetModelVersionTag",
    "SetRegisteredModelAlias",
    "SetRegisteredModelTag",
    "TransitionModelVersionStage",
    "UpdateModelVersion",
    "UpdateRegisteredModel",
]


class CreateRegisteredModel(Command, frozen=True, kw_only=True, tag="create_registered_model"):
    name: str | None
    tags: list[TagIn] = []
    description: str | None = None


class RenameRegisteredModel(Command, frozen=True, kw_only=True, tag="rename_registered_model"):
    name: str | None
    new_name: str | None


class UpdateRegisteredModel(Command, frozen=True, kw_only=True, tag="update_registered_model"):
    name: str | None
    description: str | None = None


class DeleteRegisteredModel(Command, frozen=True, kw_only=True, tag="delete_registered_model"):
    name: str | None


class SetRegisteredModelTag(Command, frozen=True, kw_only=True, tag="set_registered_model_tag"):
    name: str | None
    key: str | None
    value: str | None


class DeleteRegisteredModelTag(
    Command, frozen=True, kw_only=True, tag="delete_registered_model_tag"
):
    name: str | None
    key: str | None


class CreateModelVersion(Command, frozen=True, kw_only=True, tag="create_model_version"):
    name: str | None
    source: str | None
    #: None: not given (MLflow tells "not given" from "given empty" for these two).
    run_id: str | None = None
    model_id: str | None = None
    tags: list[TagIn] = []
    run_link: str | None = None
    description: str | None = None


class UpdateModelVersion(Command, frozen=True, kw_only=True, tag="update_model_version"):
    name: str | None
    version: str | None
    #: None: leave the description as it is.
    description: str | None = None


class TransitionModelVersionStage(
    Command, frozen=True, kw_only=True, tag="transition_model_version_stage"
):
    name: str | None
    version: str | None
    stage: str | None
    archive_existing_versions: bool = False


class DeleteModelVersion(Command, frozen=True, kw_only=True, tag="delete_model_version"):
    name: str | None
    version: str | None


class SetModelVersionTag(Command, frozen=True, kw_only=True, tag="set_model_version_tag"):
    name: str | None
    version: str | None
    key: str | None
    value: str | None


class DeleteModelVersionTag(Command, frozen=True, kw_only=True, tag="delete_model_version_tag"):
    name: str | None
    version: str | None
    key: str | None


class SetRegisteredModelAlias(Command, frozen=True, kw_only=True, tag="set_registered_model_alias"):
    name: str | None
    alias: str | None
    version: str | None


class DeleteRegisteredModelAlias(
    Command, frozen=True, kw_only=True, tag="delete_registered_model_alias"
):
    name: str | None
    alias: str | None
