"""What the registry's read model answers with."""

from __future__ import annotations

import msgspec

from trackledger.eventlog.event_base import Tag

__all__ = ["ModelVersionView", "RegisteredModelView"]


class ModelVersionView(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    name: str
    version: int
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    current_stage: str
    source: str | None
    storage_location: str | None
    run_id: str | None
    run_link: str | None
    model_id: str | None
    status: str
    tags: list[Tag]
    #: Filled where MLflow fills it (get, get-by-alias, get-latest-versions), else empty.
    aliases: list[str] = []
    user_id: str | None = None


class RegisteredModelView(msgspec.Struct, frozen=True, kw_only=True):
    registered_model_id: str
    name: str
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    #: The highest version in each stage, without their aliases (as MLflow answers).
    latest_versions: list[ModelVersionView]
    tags: list[Tag]
    aliases: list[tuple[str, int]]
    deleted_time: int | None = None
