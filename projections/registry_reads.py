"""The registry's read model over SQL, for every backend (``?`` placeholders, a ``FetchAll``).

Each call costs a constant number of queries per page: models, versions, their tags and
aliases are fetched table by table for the whole page. A model's latest version in each stage
is one index probe per stage (``model_versions_stage``), however many versions it has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec

from trackledger.eventlog.event_base import Tag
from trackledger.projections.fetch import FetchAll
from trackledger.projections.registry_views import ModelVersionView, RegisteredModelView
from trackledger.projections.search.registry import compile_model_search, compile_version_search
from trackledger.projections.search.sql import SqlBuilder
from trackledger.projections.views import Page

__all__ = ["RegistryReads"]

Key = tuple[str, int]

STAGES = ("None", "Staging", "Production", "Archived")
_CHUNK = 2000
_MODEL_COLUMNS = (
    "registered_model_id, name, creation_time, last_updated_time, description, deleted_time"
)
_VERSION_COLUMNS = (
    "mv.registered_model_id, mv.version, mv.creation_time, mv.last_updated_time, "
    "mv.description, mv.current_stage, mv.source, mv.storage_location, mv.run_id, "
    "mv.run_link, mv.model_id, mv.status, mv.user_id, r.name"
)


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _chunks(items: list[Any], size: int = _CHUNK) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class RegistryReads:
    def __init__(self, fetchall: FetchAll, dialect: str) -> None:
        self._fetchall = fetchall
        self._dialect = dialect
        # SQLite's CROSS JOIN keeps the keys as the outer loop (lookups by primary key).
        self._drive = "JOIN" if dialect == "postgres" else "CROSS JOIN"

    # -- registered models -------------------------------------------------------------

    async def model_named(self, name: str) -> RegisteredModelView | None:
        """The (not deleted) model now called ``name``."""
        found = await self._models(
            "name = ? AND deleted_time IS NULL AND creation_time IS NOT NULL", [name]
        )
        return found[0] if found else None

    async def model(self, registered_model_id: str) -> RegisteredModelView | None:
        """The model with this id, deleted or not."""
        found = await self._models(
            "registered_model_id = ? AND creation_time IS NOT NULL", [registered_model_id]
        )
        return found[0] if found else None

    async def model_ids_named(self, name: str) -> list[tuple[str, int | None]]:
        """(id, deleted time) of every model now called ``name``: the live one first, then
        deleted ones, most recently created first."""
        rows = await self._fetchall(
            "SELECT registered_model_id, deleted_time FROM registered_models WHERE name = ? "
            "AND creation_time IS NOT NULL ORDER BY CASE WHEN deleted_time IS NULL THEN 0 "
            "ELSE 1 END, creation_time DESC, registered_model_id",
            [name],
        )
        return [(row[0], row[1]) for row in rows]

    async def _models(self, where: str, params: Sequence[Any]) -> list[RegisteredModelView]:
        rows = await self._fetchall(
            f"SELECT {_MODEL_COLUMNS} FROM registered_models WHERE {where}", params
        )
        return await self._model_views(rows)

    async def _models_by_id(self, ids: list[str]) -> list[RegisteredModelView]:
        views: dict[str, RegisteredModelView] = {}
        for chunk in _chunks(ids):
            for view in await self._models(f"registered_model_id IN ({_marks(len(chunk))})", chunk):
                views[view.registered_model_id] = view
        return [views[i] for i in ids if i in views]

    async def _model_views(self, rows: list[tuple[Any, ...]]) -> list[RegisteredModelView]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        marks = _marks(len(ids))
        tags: dict[str, list[Tag]] = defaultdict(list)
        for model_id, key, value in await self._fetchall(
            "SELECT registered_model_id, key, value FROM registered_model_tags "
            f"WHERE registered_model_id IN ({marks}) AND value IS NOT NULL ORDER BY key",
            ids,
        ):
            tags[model_id].append(Tag(key, value))
        aliases: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for model_id, alias, version in await self._fetchall(
            "SELECT registered_model_id, alias, version FROM registered_model_aliases "
            f"WHERE registered_model_id IN ({marks}) AND version IS NOT NULL ORDER BY alias",
            ids,
        ):
            aliases[model_id].append((alias, int(version)))
        latest: dict[str, list[ModelVersionView]] = defaultdict(list)
        for view in await self.versions(await self._latest_keys(ids), with_aliases=False):
            latest[view.registered_model_id].append(view)
        return [
            RegisteredModelView(
                registered_model_id=row[0],
                name=row[1],
                creation_time=row[2],
                last_updated_time=row[3],
                description=row[4],
                deleted_time=row[5],
                latest_versions=latest.get(row[0], []),
                tags=tags.get(row[0], []),
                aliases=aliases.get(row[0], []),
            )
            for row in rows
        ]

    async def _latest_keys(self, ids: list[str]) -> list[Key]:
        """The highest version in each stage of each model, in version order."""
        stages = ", ".join(f"('{stage}')" for stage in STAGES)
        params: list[Any]
        if self._dialect == "postgres":
            source, params = "SELECT unnest(?::text[])", [ids]
        else:
            source, params = f"VALUES {', '.join(['(?)'] * len(ids))}", list(ids)
        rows = await self._fetchall(
            f"WITH ids(id) AS ({source}), stages(stage) AS (VALUES {stages}) "
            "SELECT ids.id, (SELECT MAX(v.version) FROM model_versions v "
            "WHERE v.registered_model_id = ids.id AND v.current_stage = stages.stage) "
            "FROM ids CROSS JOIN stages",
            params,
        )
        return sorted((row[0], int(row[1])) for row in rows if row[1] is not None)

    async def search_models(
        self,
        *,
        filter_text: str | None,
        order_by: list[str],
        max_results: int,
        offset: int,
        restrict: tuple[bool, tuple[str, ...]] | None = None,
    ) -> Page:
        """``restrict``: (True, ids) only those models, (False, ids) all others."""
        b = SqlBuilder(self._dialect)
        sql = compile_model_search(
            b,
            filter_text=filter_text,
            order_by=order_by,
            limit=max_results + 1,
            offset=offset,
            restrict=restrict,
        )
        ids = [row[0] for row in await self._fetchall(sql, b.params)]
        more = len(ids) > max_results
        items: list[msgspec.Struct] = list(await self._models_by_id(ids[:max_results]))
        return Page(items, offset + max_results if more else None)

    # -- model versions ----------------------------------------------------------------

    async def version(
        self, registered_model_id: str, version: int, *, with_aliases: bool = True
    ) -> ModelVersionView | None:
        """The version (not deleted), with the aliases pointing at it."""
        found = await self.versions([(registered_model_id, version)], with_aliases=with_aliases)
        return found[0] if found else None

    async def versions(self, keys: list[Key], *, with_aliases: bool) -> list[ModelVersionView]:
        """The (not deleted) versions with these keys, in the order given."""
        views: dict[Key, ModelVersionView] = {}
        for chunk in _chunks(keys):
            for view in await self._version_chunk(chunk, with_aliases):
                views[(view.registered_model_id, view.version)] = view
        return [views[key] for key in keys if key in views]

    def _keys_source(self, keys: list[Key]) -> tuple[str, list[Any]]:
        """A CTE ``w(id, v)`` of the keys, to drive lookups by primary key."""
        if self._dialect == "postgres":
            return (
                "WITH w(id, v) AS (SELECT * FROM unnest(?::text[], ?::int8[]))",
                [[k[0] for k in keys], [k[1] for k in keys]],
            )
        values = ", ".join(["(?, ?)"] * len(keys))
        return f"WITH w(id, v) AS (VALUES {values})", [x for k in keys for x in k]

    async def _version_chunk(self, keys: list[Key], with_aliases: bool) -> list[ModelVersionView]:
        if not keys:
            return []
        ids = sorted({k[0] for k in keys})
        source, params = self._keys_source(keys)
        rows = await self._fetchall(
            f"{source} SELECT {_VERSION_COLUMNS} FROM w {self._drive} model_versions mv "
            "ON mv.registered_model_id = w.id AND mv.version = w.v "
            "JOIN registered_models r ON r.registered_model_id = mv.registered_model_id "
            "WHERE mv.creation_time IS NOT NULL AND mv.current_stage != 'Deleted_Internal'",
            params,
        )
        tags: dict[Key, list[Tag]] = defaultdict(list)
        for model_id, number, key, value in await self._fetchall(
            f"{source} SELECT g.registered_model_id, g.version, g.key, g.value FROM w "
            f"{self._drive} model_version_tags g ON g.registered_model_id = w.id "
            "AND g.version = w.v "
            "WHERE g.value IS NOT NULL ORDER BY g.key",
            params,
        ):
            tags[(model_id, int(number))].append(Tag(key, value))
        aliases: dict[Key, list[str]] = defaultdict(list)
        if with_aliases:
            for model_id, alias, number in await self._fetchall(
                "SELECT registered_model_id, alias, version FROM registered_model_aliases "
                f"WHERE registered_model_id IN ({_marks(len(ids))}) AND version IS NOT NULL "
                "ORDER BY alias",
                ids,
            ):
                aliases[(model_id, int(number))].append(alias)
        return [
            ModelVersionView(
                registered_model_id=row[0],
                version=int(row[1]),
                creation_time=row[2],
                last_updated_time=row[3],
                description=row[4],
                current_stage=row[5],
                source=row[6],
                storage_location=row[7],
                run_id=row[8],
                run_link=row[9],
                model_id=row[10],
                status=row[11] or "READY",
                user_id=row[12],
                name=row[13],
                tags=tags.get((row[0], int(row[1])), []),
                aliases=aliases.get((row[0], int(row[1])), []),
            )
            for row in rows
        ]

    async def latest_in_stages(
        self, registered_model_id: str, stages: Sequence[str]
    ) -> list[ModelVersionView]:
        """The highest version in each of ``stages``, with aliases, in version order."""
        views = await self.versions(
            await self._latest_keys([registered_model_id]), with_aliases=True
        )
        return [view for view in views if view.current_stage in stages]

    async def alias(self, registered_model_id: str, alias: str) -> int | None:
        rows = await self._fetchall(
            "SELECT version FROM registered_model_aliases WHERE registered_model_id = ? "
            "AND alias = ? AND version IS NOT NULL",
            [registered_model_id, alias],
        )
        return int(rows[0][0]) if rows else None

    async def search_versions(
        self,
        *,
        filter_text: str | None,
        order_by: list[str],
        max_results: int,
        offset: int,
        restrict: tuple[bool, tuple[str, ...]] | None = None,
    ) -> Page:
        """``restrict``: (True, ids) only those models, (False, ids) all others."""
        b = SqlBuilder(self._dialect)
        sql = compile_version_search(
            b,
            filter_text=filter_text,
            order_by=order_by,
            limit=max_results + 1,
            offset=offset,
            restrict=restrict,
        )
        keys = [(row[0], int(row[1])) for row in await self._fetchall(sql, b.params)]
        more = len(keys) > max_results
        items: list[msgspec.Struct] = list(
            await self.versions(keys[:max_results], with_aliases=False)
        )
        return Page(items, offset + max_results if more else None)
