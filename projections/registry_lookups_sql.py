"""Answer the registry decisions' lookups from the read model (see ``sql_lookups.py``).

On PostgreSQL, ``lock`` ``update`` is FOR UPDATE on the model's row (commands about one model
run one after the other), ``share`` is FOR KEY SHARE, and a name being claimed takes a
transaction-scoped advisory lock on the name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackledger.eventlog import registry_lookups as q

__all__ = ["registry_lookup_query"]

Rows = list[tuple[Any, ...]]
Query = tuple[str, tuple[Any, ...], Callable[[Rows], Any]]

_LOCKS = {"share": " FOR KEY SHARE OF r", "update": " FOR UPDATE OF r"}
_PROMPT = (
    "EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.registered_model_id = "
    "r.registered_model_id AND p.key = 'mlflow.prompt.is_prompt' AND lower(p.value) = 'true')"
)
_MODEL = f"SELECT r.registered_model_id, r.name, r.max_version, {_PROMPT} FROM registered_models r"
_VERSION_COLUMNS = (
    "version, current_stage, source, storage_location, run_id, run_link, description, model_id"
)
DELETED = "Deleted_Internal"


def _model(rows: Rows) -> q.RegisteredModelState | None:
    if not rows:
        return None
    model_id, name, max_version, is_prompt = rows[0]
    return q.RegisteredModelState(
        registered_model_id=model_id,
        name=name,
        max_version=int(max_version),
        is_prompt=bool(is_prompt),
    )


def _version(rows: Rows) -> q.ModelVersionState | None:
    if not rows:
        return None
    row = rows[0]
    return q.ModelVersionState(
        version=int(row[0]),
        current_stage=row[1],
        source=row[2],
        storage_location=row[3],
        run_id=row[4],
        run_link=row[5],
        description=row[6],
        model_id=row[7],
    )


def _pairs(rows: Rows) -> dict[str, Any]:
    return {row[0]: row[1] for row in rows}


def _marks(keys: list[str]) -> str:
    return ",".join("?" * len(keys)) or "NULL"


def registry_lookup_query(lookup: object, dialect: str) -> Query | None:
    """The query answering ``lookup``, or None if it is not a registry lookup."""
    postgres = dialect == "postgres"
    match lookup:
        case q.GetRegisteredModel():
            where = "r.name = ? AND r.deleted_time IS NULL AND r.creation_time IS NOT NULL"
            if postgres and lookup.claim:
                return (
                    "WITH claim AS (SELECT pg_advisory_xact_lock(hashtextextended(?, 0))) "
                    f"{_MODEL} CROSS JOIN claim WHERE {where}",
                    (f"registered-model-name:{lookup.name}", lookup.name),
                    _model,
                )
            lock = _LOCKS[lookup.lock] if postgres and not lookup.claim else ""
            return f"{_MODEL} WHERE {where}{lock}", (lookup.name,), _model
        case q.GetModelVersion():
            return (
                f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE registered_model_id = ? "
                "AND version = ? AND creation_time IS NOT NULL",
                (lookup.registered_model_id, lookup.version),
                _version,
            )
        case q.GetVersionsInStage():
            return (
                "SELECT version FROM model_versions WHERE registered_model_id = ? "
                "AND current_stage = ? AND creation_time IS NOT NULL ORDER BY version",
                (lookup.registered_model_id, lookup.stage),
                lambda rows: [int(row[0]) for row in rows],
            )
        case q.GetLatestVersions():
            return (
                "SELECT current_stage, MAX(version) FROM model_versions "
                "WHERE registered_model_id = ? AND current_stage != ? "
                "AND creation_time IS NOT NULL GROUP BY current_stage",
                (lookup.registered_model_id, DELETED),
                lambda rows: {row[0]: int(row[1]) for row in rows},
            )
        case q.GetAliases():
            return (
                "SELECT alias, version FROM registered_model_aliases "
                "WHERE registered_model_id = ? AND version IS NOT NULL",
                (lookup.registered_model_id,),
                lambda rows: {row[0]: int(row[1]) for row in rows},
            )
        case q.GetRegisteredModelTags():
            return (
                "SELECT key, value FROM registered_model_tags WHERE registered_model_id = ? "
                f"AND key IN ({_marks(lookup.keys)}) AND value IS NOT NULL",
                (lookup.registered_model_id, *lookup.keys),
                _pairs,
            )
        case q.GetModelVersionTags():
            keys = "" if lookup.keys is None else f" AND key IN ({_marks(lookup.keys)})"
            return (
                "SELECT key, value FROM model_version_tags WHERE registered_model_id = ? "
                f"AND version = ?{keys} AND value IS NOT NULL",
                (lookup.registered_model_id, lookup.version, *(lookup.keys or [])),
                _pairs,
            )
        case q.GetLoggedModelTags():
            sql = (
                "SELECT key, value FROM logged_model_tags WHERE model_id = ? "
                f"AND key IN ({_marks(lookup.keys)}) AND value IS NOT NULL"
            )
            params: tuple[Any, ...] = (lookup.model_id, *lookup.keys)
            if postgres and lookup.lock == "update":
                # The tag is about to be rewritten from its current value: one at a time.
                sql = (
                    "WITH claim AS (SELECT pg_advisory_xact_lock(hashtextextended(?, 0))) "
                    "SELECT key, value FROM claim CROSS JOIN logged_model_tags WHERE "
                    f"model_id = ? AND key IN ({_marks(lookup.keys)}) AND value IS NOT NULL"
                )
                params = (f"logged-model:{lookup.model_id}", *params)
            return sql, params, _pairs
    return None
