"""What a registry decision may ask of the current state (see ``lookups.py``).

``lock`` works as for runs and experiments: stores with concurrent writers take the row lock
(``update``: the decision changes the model, so decisions about one model run one at a time;
``share``: it must not change meanwhile); a single-writer store needs none. ``claim`` takes a
name about to be used, so two decisions creating or renaming onto one name serialize.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "GetAliases",
    "GetLatestVersions",
    "GetLoggedModelTags",
    "GetModelVersion",
    "GetModelVersionTags",
    "GetRegisteredModel",
    "GetRegisteredModelTags",
    "GetVersionsInStage",
    "ModelVersionState",
    "RegisteredModelState",
]


class RegisteredModelState(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    name: str
    #: The highest version number ever handed out (deleted versions included).
    max_version: int
    is_prompt: bool = False


class ModelVersionState(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    current_stage: str
    source: str
    storage_location: str
    run_id: str | None
    run_link: str | None
    description: str | None
    model_id: str | None


class GetRegisteredModel(msgspec.Struct, frozen=True):
    """Answer: ``RegisteredModelState | None``: the model that now has ``name`` (a deleted
    model is not found)."""

    name: str
    lock: str = "share"
    claim: bool = False


class GetModelVersion(msgspec.Struct, frozen=True):
    """Answer: ``ModelVersionState | None`` (deleted versions too, in "Deleted_Internal")."""

    registered_model_id: str
    version: int


class GetVersionsInStage(msgspec.Struct, frozen=True):
    """Answer: ``list[int]``, the model's versions now in ``stage``, in version order."""

    registered_model_id: str
    stage: str


class GetLatestVersions(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, int]``: for each stage in use, its highest version."""

    registered_model_id: str


class GetAliases(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, int]``, the model's aliases and the versions they point at."""

    registered_model_id: str


class GetRegisteredModelTags(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, str]`` of the present tags among ``keys``."""

    registered_model_id: str
    keys: list[str]


class GetModelVersionTags(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, str]`` of the version's present tags among ``keys`` (all of them
    when ``keys`` is None)."""

    registered_model_id: str
    version: int
    keys: list[str] | None = None


class GetLoggedModelTags(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, str]`` of a logged model's present tags among ``keys``. With
    ``lock`` ``update`` the logged model's row is locked (its tags are about to change)."""

    model_id: str
    keys: list[str]
    lock: str = "share"
