"""What trackledger already holds of the objects an import brings: read in bulk from the
read model's tables, and the last import marker of each stream from the log (the source's
state at the previous import, which the next one compares with)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec

from trackledger.eventlog.events import (
    ExperimentImported,
    LoggedModelImported,
    RunImported,
    decode_event,
    experiment_stream,
    model_stream,
    run_stream,
)
from trackledger.eventlog.postgres_sql import PgFetchAll
from trackledger.eventlog.registry_events import RegisteredModelImported
from trackledger.projections.sql_reads import FetchAll
from trackledger.services.backends import Backend, PostgresBackend, SQLiteBackend

__all__ = [
    "HeldExperiment",
    "HeldModel",
    "HeldRegisteredModel",
    "HeldRun",
    "HeldVersion",
    "Target",
    "fetcher",
]

_CHUNK = 5000
#: A point as the history table holds it: key, step, timestamp, value, is_nan.
HeldPoint = tuple[str, int, int, float, int]


class HeldExperiment(msgspec.Struct, kw_only=True):
    experiment_id: str
    name: str
    lifecycle_stage: str
    tags: dict[str, str]
    marker: ExperimentImported | None = None


class HeldRun(msgspec.Struct, kw_only=True):
    run_id: str
    experiment_id: str
    artifact_uri: str
    name: str
    status: str
    end_time: int | None
    lifecycle_stage: str
    tags: dict[str, str] = {}
    params: dict[str, str] = {}
    #: key -> (step, timestamp, value, points held)
    latest: dict[str, tuple[int, int, float, int]] = {}
    datasets: set[tuple[str, str]] = set()
    model_inputs: set[str] = set()
    outputs: set[tuple[str, int]] = set()
    marker: RunImported | None = None


class HeldVersion(msgspec.Struct, kw_only=True):
    version: int
    stage: str
    description: str | None
    tags: dict[str, str] = {}


class HeldRegisteredModel(msgspec.Struct, kw_only=True):
    registered_model_id: str
    name: str
    description: str | None
    deleted: bool
    tags: dict[str, str] = {}
    aliases: dict[str, int] = {}
    versions: dict[int, HeldVersion] = {}
    marker: RegisteredModelImported | None = None


class HeldModel(msgspec.Struct, kw_only=True):
    model_id: str
    artifact_location: str
    status: str
    lifecycle_stage: str
    tags: dict[str, str] = {}
    params: dict[str, str] = {}
    marker: LoggedModelImported | None = None


def fetcher(backend: Backend) -> FetchAll:
    """Run a query on the backend's read connections (``?`` placeholders)."""
    if isinstance(backend, SQLiteBackend):
        return backend.store.readers.fetchall
    if isinstance(backend, PostgresBackend):
        return PgFetchAll(backend.read_pool)
    raise TypeError(f"no table reads for a {backend.kind} backend")


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Target:
    def __init__(self, backend: Backend) -> None:
        self._fetch = fetcher(backend)

    async def _in(self, sql: str, ids: Sequence[Any], *extra: Any) -> list[tuple[Any, ...]]:
        """``sql`` with ``{ids}`` as an IN list, run over ``ids`` in chunks."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            rows.extend(await self._fetch(sql.format(ids=_marks(len(chunk))), [*extra, *chunk]))
        return rows

    async def _markers(self, kind: str, streams: Sequence[str]) -> dict[str, Any]:
        """The last marker of ``kind`` on each of ``streams`` that has one."""
        out: dict[str, Any] = {}
        for stream, payload in await self._in(
            "SELECT stream_id, payload FROM events WHERE type = ? AND stream_id IN ({ids}) "
            "ORDER BY position",
            streams,
            kind,
        ):
            out[stream] = decode_event(bytes(payload))
        return out

    async def experiments(self) -> dict[str, HeldExperiment]:
        """Every experiment trackledger holds (deleted ones too), by id."""
        held = {
            str(row[0]): HeldExperiment(
                experiment_id=str(row[0]), name=row[1], lifecycle_stage=row[2], tags={}
            )
            for row in await self._fetch(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments "
                "WHERE name IS NOT NULL",
                [],
            )
        }
        for exp_id, key, value in await self._fetch(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE value IS NOT NULL", []
        ):
            if str(exp_id) in held:
                held[str(exp_id)].tags[key] = value
        for (payload,) in await self._fetch(
            "SELECT payload FROM events WHERE type = 'experiment.imported' ORDER BY position",
            [],
        ):
            marker = decode_event(bytes(payload))
            assert isinstance(marker, ExperimentImported)
            if marker.experiment_id in held:
                held[marker.experiment_id].marker = marker
        return held

    async def taken_experiment_ids(self) -> set[str]:
        """Ids that experiments here hold or held (a purged id is never reused)."""
        rows = await self._fetch(
            "SELECT experiment_id FROM experiments UNION SELECT experiment_id FROM "
            "purged_experiments",
            [],
        )
        return {str(row[0]) for row in rows}

    async def purged_runs(self, run_ids: Sequence[str]) -> set[str]:
        return {
            row[0]
            for row in await self._in(
                "SELECT run_id FROM purged_runs WHERE run_id IN ({ids})", run_ids
            )
        }

    async def runs(self, run_ids: Sequence[str]) -> dict[str, HeldRun]:
        """The runs among ``run_ids`` that trackledger holds, with what a comparison needs."""
        held = {
            row[0]: HeldRun(
                run_id=row[0],
                experiment_id=str(row[1]),
                name=row[2] or "",
                status=row[3] or "",
                end_time=row[4],
                lifecycle_stage=row[5] or "active",
                artifact_uri=row[6] or "",
                tags={},
                params={},
                latest={},
                datasets=set(),
                model_inputs=set(),
                outputs=set(),
            )
            for row in await self._in(
                "SELECT run_id, experiment_id, name, status, end_time, lifecycle_stage, "
                "artifact_uri FROM runs WHERE experiment_id IS NOT NULL AND run_id IN ({ids})",
                run_ids,
            )
        }
        if not held:
            return held
        ids = list(held)
        for run_id, key, value in await self._in(
            "SELECT run_id, key, value FROM run_tags WHERE value IS NOT NULL AND run_id IN ({ids})",
            ids,
        ):
            held[run_id].tags[key] = value
        for run_id, key, value in await self._in(
            "SELECT run_id, key, value FROM params WHERE run_id IN ({ids})", ids
        ):
            held[run_id].params[key] = value
        for run_id, key, value, ts, step, nan, count in await self._in(
            "SELECT run_id, key, value, timestamp, step, is_nan, count FROM latest_metrics "
            "WHERE run_id IN ({ids})",
            ids,
        ):
            held[run_id].latest[key] = (step, ts, math.nan if nan else value, count)
        for run_id, name, digest in await self._in(
            "SELECT run_id, name, digest FROM run_datasets WHERE run_id IN ({ids})", ids
        ):
            held[run_id].datasets.add((name, digest))
        for run_id, model_id in await self._in(
            "SELECT run_id, model_id FROM run_model_inputs WHERE run_id IN ({ids})", ids
        ):
            held[run_id].model_inputs.add(model_id)
        for run_id, model_id, step in await self._in(
            "SELECT run_id, model_id, step FROM run_outputs WHERE run_id IN ({ids})", ids
        ):
            held[run_id].outputs.add((model_id, step))
        markers = await self._markers("run.imported", [run_stream(r) for r in ids])
        for marker in markers.values():
            held[marker.run_id].marker = marker
        return held

    async def history(self, run_id: str, keys: Sequence[str]) -> set[HeldPoint]:
        rows = await self._in(
            "SELECT key, step, timestamp, value, is_nan FROM metric_history "
            "WHERE run_id = ? AND key IN ({ids})",
            keys,
            run_id,
        )
        return {(key, step, ts, value, nan) for key, step, ts, value, nan in rows}

    async def models(self, model_ids: Sequence[str]) -> dict[str, HeldModel]:
        held = {
            row[0]: HeldModel(
                model_id=row[0],
                status=row[1] or "",
                lifecycle_stage=row[2] or "active",
                artifact_location=row[3] or "",
            )
            for row in await self._in(
                "SELECT model_id, status, lifecycle_stage, artifact_location FROM logged_models "
                "WHERE experiment_id IS NOT NULL AND model_id IN ({ids})",
                model_ids,
            )
        }
        if not held:
            return held
        ids = list(held)
        for model_id, key, value in await self._in(
            "SELECT model_id, key, value FROM logged_model_tags WHERE value IS NOT NULL AND "
            "model_id IN ({ids})",
            ids,
        ):
            held[model_id].tags[key] = value
        for model_id, key, value in await self._in(
            "SELECT model_id, key, value FROM logged_model_params WHERE model_id IN ({ids})",
            ids,
        ):
            held[model_id].params[key] = value
        markers = await self._markers("model.imported", [model_stream(m) for m in ids])
        for marker in markers.values():
            held[marker.model_id].marker = marker
        return held

    async def registry(self) -> list[HeldRegisteredModel]:
        """Every registered model here (deleted ones too), with its versions, tags, aliases
        and last import marker."""
        held = {
            row[0]: HeldRegisteredModel(
                registered_model_id=row[0],
                name=row[1],
                description=row[2],
                deleted=row[3] is not None,
                tags={},
                aliases={},
                versions={},
            )
            for row in await self._fetch(
                "SELECT registered_model_id, name, description, deleted_time FROM "
                "registered_models WHERE creation_time IS NOT NULL",
                [],
            )
        }
        for model_id, key, value in await self._fetch(
            "SELECT registered_model_id, key, value FROM registered_model_tags "
            "WHERE value IS NOT NULL",
            [],
        ):
            if model_id in held:
                held[model_id].tags[key] = value
        for model_id, alias, version in await self._fetch(
            "SELECT registered_model_id, alias, version FROM registered_model_aliases "
            "WHERE version IS NOT NULL",
            [],
        ):
            if model_id in held:
                held[model_id].aliases[alias] = int(version)
        for model_id, version, stage, description in await self._fetch(
            "SELECT registered_model_id, version, current_stage, description FROM "
            "model_versions WHERE creation_time IS NOT NULL",
            [],
        ):
            if model_id in held:
                held[model_id].versions[int(version)] = HeldVersion(
                    version=int(version), stage=stage or "None", description=description, tags={}
                )
        for model_id, version, key, value in await self._fetch(
            "SELECT registered_model_id, version, key, value FROM model_version_tags "
            "WHERE value IS NOT NULL",
            [],
        ):
            found = held.get(model_id)
            if found is not None and int(version) in found.versions:
                found.versions[int(version)].tags[key] = value
        for (payload,) in await self._fetch(
            "SELECT payload FROM events WHERE type = 'registry.imported' ORDER BY position", []
        ):
            marker = decode_event(bytes(payload))
            assert isinstance(marker, RegisteredModelImported)
            if marker.registered_model_id in held:
                held[marker.registered_model_id].marker = marker
        return list(held.values())

    async def existing_streams(self, streams: Sequence[str]) -> set[str]:
        """Which of ``streams`` have events (a purged run keeps its tombstone)."""
        return {
            row[0]
            for row in await self._in(
                "SELECT DISTINCT stream_id FROM events WHERE stream_id IN ({ids})", streams
            )
        }


def experiment_streams(ids: Sequence[str]) -> list[str]:
    return [experiment_stream(i) for i in ids]
