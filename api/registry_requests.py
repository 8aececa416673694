"""The request messages of MLflow's model registry API (model_registry.proto), as msgspec
structs. Every field is optional here; handlers and decisions check them with MLflow's wording.
A version may come as a string (as the client sends it) or a number."""

from __future__ import annotations

import msgspec

from trackledger.api.requests import TagWire
from trackledger.api.wire import Int64

__all__ = [
    "AliasRequest",
    "AsOfModelRequest",
    "CreateModelRequest",
    "CreateVersionRequest",
    "LatestVersionsRequest",
    "ModelHistoryRequest",
    "ModelTagRequest",
    "NameRequest",
    "RenameRequest",
    "SearchRequest",
    "TransitionRequest",
    "UpdateModelRequest",
    "UpdateVersionRequest",
    "VersionRequest",
    "VersionTagRequest",
]

Version = str | int | None


class NameRequest(msgspec.Struct):
    name: str | None = None


class CreateModelRequest(msgspec.Struct):
    name: str | None = None
    tags: list[TagWire] = []
    description: str | None = None


class RenameRequest(msgspec.Struct):
    name: str | None = None
    new_name: str | None = None


class UpdateModelRequest(msgspec.Struct):
    name: str | None = None
    description: str | None = None


class SearchRequest(msgspec.Struct):
    filter: str | None = None
    max_results: Int64 | None = None
    order_by: list[str] = []
    page_token: str | None = None


class LatestVersionsRequest(msgspec.Struct):
    name: str | None = None
    stages: list[str] = []


class ModelTagRequest(msgspec.Struct):
    name: str | None = None
    key: str | None = None
    value: str | None = None


class AliasRequest(msgspec.Struct):
    name: str | None = None
    alias: str | None = None
    version: Version = None


class CreateVersionRequest(msgspec.Struct):
    name: str | None = None
    source: str | None = None
    run_id: str | None = None
    tags: list[TagWire] = []
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None


class VersionRequest(msgspec.Struct):
    name: str | None = None
    version: Version = None


class UpdateVersionRequest(msgspec.Struct):
    name: str | None = None
    version: Version = None
    description: str | None = None


class TransitionRequest(msgspec.Struct):
    name: str | None = None
    version: Version = None
    stage: str | None = None
    archive_existing_versions: bool = False


class VersionTagRequest(msgspec.Struct):
    name: str | None = None
    version: Version = None
    key: str | None = None
    value: str | None = None


class ModelHistoryRequest(msgspec.Struct):
    """trackledger's registered-models/history: by name (the live model, else the most
    recently deleted one of that name) or by the model's internal id."""

    name: str | None = None
    registered_model_id: str | None = None
    max_results: Int64 | None = None
    page_token: str | None = None


class AsOfModelRequest(msgspec.Struct):
    name: str | None = None
    registered_model_id: str | None = None
    alias: str | None = None
    version: Version = None
    as_of: Int64 | None = None
