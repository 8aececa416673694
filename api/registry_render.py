"""Render registry views as MLflow's JSON (``RegisteredModel`` and ``ModelVersion`` messages).

As MLflow's server writes them: int64 as numbers, the version as a string, unset fields and
empty lists left out; a registered model's empty description is left out, a version's is not.
"""

from __future__ import annotations

from typing import Any

from trackledger.projections.registry_views import ModelVersionView, RegisteredModelView

__all__ = ["model_version", "registered_model"]


def _tags(tags: list[Any]) -> list[dict[str, str]]:
    return [{"key": t.key, "value": t.value} for t in tags]


def model_version(view: ModelVersionView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": view.name,
        "version": str(view.version),
        "creation_timestamp": view.creation_time,
    }
    if view.last_updated_time is not None:
        out["last_updated_timestamp"] = view.last_updated_time
    if view.description is not None:
        out["description"] = view.description
    if view.user_id is not None:
        out["user_id"] = view.user_id
    out["current_stage"] = view.current_stage
    if view.source is not None:
        out["source"] = view.source
    if view.run_id is not None:
        out["run_id"] = view.run_id
    if view.run_link is not None:
        out["run_link"] = view.run_link
    out["status"] = view.status
    if view.tags:
        out["tags"] = _tags(view.tags)
    if view.aliases:
        out["aliases"] = list(view.aliases)
    if view.model_id:
        out["model_id"] = view.model_id
    return out


def registered_model(view: RegisteredModelView) -> dict[str, Any]:
    out: dict[str, Any] = {"name": view.name}
    if view.creation_time is not None:
        out["creation_timestamp"] = view.creation_time
    if view.last_updated_time:
        out["last_updated_timestamp"] = view.last_updated_time
    if view.description:
        out["description"] = view.description
    if view.latest_versions:
        out["latest_versions"] = [model_version(v) for v in view.latest_versions]
    if view.tags:
        out["tags"] = _tags(view.tags)
    if view.aliases:
        out["aliases"] = [{"alias": a, "version": str(v)} for a, v in view.aliases]
    return out
