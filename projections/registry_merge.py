"""The registry's order-independent merges, as SQL and rows (the registry's half of
``merge.py``); see ``registry_changes.py`` for the rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from trackledger.projections import registry_changes as rc

__all__ = ["RegistryStatements", "Step", "registry_plan", "registry_statements"]


def _latest(column: str, greatest: str) -> str:
    """The larger of the stored and the incoming time, either of which may be NULL."""
    return (
        f"CASE WHEN excluded.{column} IS NULL THEN t.{column} "
        f"WHEN t.{column} IS NULL THEN excluded.{column} "
        f"ELSE {greatest}(t.{column}, excluded.{column}) END"
    )


def _guarded(column: str, pos: str) -> str:
    return (
        f"{column} = CASE WHEN excluded.{pos} > t.{pos} THEN excluded.{column} ELSE t.{column} END"
    )


def _pos(pos: str, greatest: str) -> str:
    return f"{pos} = {greatest}(excluded.{pos}, t.{pos})"


_MODEL = """
INSERT INTO registered_models{s} AS t (registered_model_id, name, name_pos, creation_time,
    last_updated_time, description, description_pos, renamed_time, max_version, deleted_time)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (registered_model_id) DO UPDATE SET
    {name}, {name_pos},
    creation_time = COALESCE(t.creation_time, excluded.creation_time),
    last_updated_time = {updated},
    {description}, {description_pos},
    renamed_time = {renamed},
    max_version = {greatest}(t.max_version, excluded.max_version),
    deleted_time = COALESCE(t.deleted_time, excluded.deleted_time)
"""

_VERSION = """
INSERT INTO model_versions{s} AS t (registered_model_id, version, creation_time,
    last_updated_time, current_stage, stage_pos, description, description_pos, source,
    storage_location, run_id, run_link, model_id, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (registered_model_id, version) DO UPDATE SET
    creation_time = COALESCE(t.creation_time, excluded.creation_time),
    last_updated_time = {updated},
    {stage}, {stage_pos},
    {description}, {description_pos},
    source = COALESCE(t.source, excluded.source),
    storage_location = COALESCE(t.storage_location, excluded.storage_location),
    run_id = COALESCE(t.run_id, excluded.run_id),
    run_link = COALESCE(t.run_link, excluded.run_link),
    model_id = COALESCE(t.model_id, excluded.model_id),
    status = COALESCE(t.status, excluded.status)
"""

_MODEL_TAG = """
INSERT INTO registered_model_tags{s} AS t (registered_model_id, key, value, pos)
VALUES (?, ?, ?, ?)
ON CONFLICT (registered_model_id, key) DO UPDATE SET value = excluded.value, pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_VERSION_TAG = """
INSERT INTO model_version_tags{s} AS t (registered_model_id, version, key, value, pos)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (registered_model_id, version, key) DO UPDATE SET value = excluded.value,
    pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_ALIAS = """
INSERT INTO registered_model_aliases{s} AS t (registered_model_id, alias, version, pos)
VALUES (?, ?, ?, ?)
ON CONFLICT (registered_model_id, alias) DO UPDATE SET version = excluded.version,
    pos = excluded.pos
WHERE excluded.pos > t.pos
"""

# Not INSERTs: they change rows that exist, one statement per change.
_TOUCH = (
    "UPDATE model_versions{s} SET last_updated_time = "
    "{greatest}(COALESCE(last_updated_time, ?), ?) WHERE registered_model_id = ?"
)
_FLOOR = (
    "UPDATE model_versions{s} SET last_updated_time = {greatest}(last_updated_time, "
    "COALESCE((SELECT m.renamed_time FROM registered_models{s} m "
    "WHERE m.registered_model_id = model_versions{s}.registered_model_id), 0)) "
    "WHERE registered_model_id = ? AND version = ? AND last_updated_time IS NOT NULL"
)

_GREATEST = {"sqlite": "MAX", "postgres": "GREATEST"}


class RegistryStatements(NamedTuple):
    model: str
    version: str
    model_tag: str
    version_tag: str
    alias: str
    touch: str
    floor: str


def registry_statements(dialect: str, suffix: str = "") -> RegistryStatements:
    g = _GREATEST[dialect]
    return RegistryStatements(
        model=_MODEL.format(
            s=suffix,
            greatest=g,
            name=_guarded("name", "name_pos"),
            name_pos=_pos("name_pos", g),
            updated=_latest("last_updated_time", g),
            description=_guarded("description", "description_pos"),
            description_pos=_pos("description_pos", g),
            renamed=_latest("renamed_time", g),
        ),
        version=_VERSION.format(
            s=suffix,
            updated=_latest("last_updated_time", g),
            stage=_guarded("current_stage", "stage_pos"),
            stage_pos=_pos("stage_pos", g),
            description=_guarded("description", "description_pos"),
            description_pos=_pos("description_pos", g),
        ),
        model_tag=_MODEL_TAG.format(s=suffix),
        version_tag=_VERSION_TAG.format(s=suffix),
        alias=_ALIAS.format(s=suffix),
        touch=_TOUCH.format(s=suffix, greatest=g),
        floor=_FLOOR.format(s=suffix, greatest=g),
    )


class Step(NamedTuple):
    """One statement and the rows to run it with (as ``merge.Step``)."""

    sql: str
    rows: list[tuple[Any, ...]]


def _at(pos: int, present: bool) -> int:
    """The position guarding a field: 0 when the change does not touch it."""
    return pos if present else 0


def registry_plan(sql: RegistryStatements, change: rc.RegistryChange) -> Iterator[Step]:
    match change:
        case rc.SetRegisteredModel():
            m = change
            row = (
                m.registered_model_id,
                m.name,
                _at(m.pos, m.name is not None),
                m.creation_time,
                m.last_updated_time,
                m.description,
                _at(m.pos, m.sets_description),
                m.renamed_time,
                m.max_version,
                m.deleted_time,
            )
            yield Step(sql.model, [row])
        case rc.SetModelVersion():
            v = change
            version_row = (
                v.registered_model_id,
                v.version,
                v.creation_time,
                v.last_updated_time,
                v.current_stage,
                _at(v.pos, v.current_stage is not None),
                v.description,
                _at(v.pos, v.sets_description),
                v.source,
                v.storage_location,
                v.run_id,
                v.run_link,
                v.model_id,
                v.status,
            )
            yield Step(sql.version, [version_row])
        case rc.SetRegisteredModelTags():
            rows: list[tuple[Any, ...]] = [
                (change.registered_model_id, key, value, change.pos)
                for key, value in sorted(change.tags, key=lambda kv: kv[0])
            ]
            yield Step(sql.model_tag, rows)
        case rc.SetModelVersionTags():
            rows = [
                (change.registered_model_id, change.version, key, value, change.pos)
                for key, value in sorted(change.tags, key=lambda kv: kv[0])
            ]
            yield Step(sql.version_tag, rows)
        case rc.SetAliases():
            rows = [
                (change.registered_model_id, alias, version, change.pos)
                for alias, version in sorted(change.aliases, key=lambda av: av[0])
            ]
            yield Step(sql.alias, rows)
        case rc.TouchVersions():
            yield Step(sql.touch, [(change.time, change.time, change.registered_model_id)])
        case rc.FloorVersion():
            yield Step(sql.floor, [(change.registered_model_id, change.version)])
