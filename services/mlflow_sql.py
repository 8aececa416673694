"""Read the database of an MLflow SQL store (SQLite or PostgreSQL), read only.

The tables and columns are MLflow 3.17's (``mlflow/store/tracking/dbmodels/models.py``
and its alembic migrations). SQLite is opened with a ``mode=ro`` URI and ``query_only``,
each query its own read transaction; PostgreSQL reads in one READ ONLY, REPEATABLE READ
transaction (which blocks no writer). Nothing is ever written. Reads go in bulk: one query
per table for a whole batch of runs (histories: one query per run, on its index range).
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import urllib.parse
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from trackledger.eventlog.events import DatasetInput, ModelOutput, Tag
from trackledger.eventlog.postgres_sql import numbered
from trackledger.services.mlflow_artifacts import Resolver
from trackledger.services.mlflow_source import (
    ArtifactReader,
    BatchSize,
    Point,
    SourceExperiment,
    SourceModel,
    SourceRegisteredModel,
    SourceRun,
    SourceUnavailable,
    SourceVersion,
    describe_source,
)

__all__ = ["SqlSource", "open_sql_source"]

#: MLflow's ``LoggedModelStatus`` numbers (``mlflow/entities/logged_model_status.py``).
_MODEL_STATUS = {
    0: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}
_HISTORY = "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ?"
_REQUIRED_TABLES = ("experiments", "experiment_tags", "runs", "tags", "params", "metrics")
#: The alembic revision of MLflow 3.17.2's schema.
KNOWN_REVISION = "dc11669786a5"


class _SQLite:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        uri = f"file:{urllib.parse.quote(str(Path(path).resolve()))}?mode=ro"
        try:
            # Autocommit: no read transaction outlives a query, so a running MLflow server
            # (a rollback journal, by default) is never kept from writing for long.
            self.conn = sqlite3.connect(
                uri, uri=True, check_same_thread=False, isolation_level=None
            )
            self.conn.execute("PRAGMA query_only = 1")
            self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        except sqlite3.Error as exc:
            raise SourceUnavailable(f"cannot open {path} read-only: {exc}") from None

    def any_of(self, column: str, cast: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"

    def ids(self, values: Sequence[Any]) -> Any:
        return orjson.dumps(list(values)).decode()

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(lambda: self.conn.execute(sql, params).fetchall())

    async def histories(self, wanted: dict[str, list[str] | None]) -> dict[str, list[Point]]:
        """One query per run, all in one thread: the run's index range, rows as they are."""

        def read() -> dict[str, list[Point]]:
            out: dict[str, list[Point]] = {}
            for run_id, keys in wanted.items():
                rows = self.conn.execute(_HISTORY, (run_id,)).fetchall()
                if keys is not None:
                    chosen = set(keys)
                    rows = [row for row in rows if row[0] in chosen]
                out[run_id] = rows
            return out

        return await asyncio.to_thread(read)

    async def tables(self) -> set[str]:
        rows = await self.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}

    async def close(self) -> None:
        self.conn.close()


class _Postgres:
    dialect = "postgres"

    def __init__(self, conn: asyncpg.Connection, transaction: Any) -> None:
        self.conn = conn
        self.transaction = transaction

    @classmethod
    async def open(cls, uri: str) -> _Postgres:
        try:
            conn = await asyncpg.connect(uri, timeout=30)
        except (OSError, asyncpg.PostgresError) as exc:
            raise SourceUnavailable(f"cannot connect to {describe_source(uri)}: {exc}") from None
        transaction = conn.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        return cls(conn, transaction)

    def any_of(self, column: str, cast: str) -> str:
        return f"{column} = ANY(?::{cast}[])"

    def ids(self, values: Sequence[Any]) -> Any:
        return list(values)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self.conn.fetch(numbered(sql), *params)]

    async def histories(self, wanted: dict[str, list[str] | None]) -> dict[str, list[Point]]:
        rows = await self.conn.fetch(
            "SELECT run_uuid, key, value, timestamp, step, is_nan::int FROM metrics "
            "WHERE run_uuid = ANY($1::text[])",
            list(wanted),
        )
        out: dict[str, list[Point]] = {run_id: [] for run_id in wanted}
        chosen = {run_id: set(keys) for run_id, keys in wanted.items() if keys is not None}
        for run_id, key, value, ts, step, nan in rows:
            if run_id not in chosen or key in chosen[run_id]:
                out[run_id].append((key, value, ts, step, nan))
        return out

    async def tables(self) -> set[str]:
        rows = await self.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "ANY(current_schemas(false))"
        )
        return {row[0] for row in rows}

    async def close(self) -> None:
        try:
            await self.transaction.rollback()
        finally:
            await self.conn.close()


_Db = _SQLite | _Postgres


def _float(value: float, is_nan: Any) -> float:
    return math.nan if is_nan else float(value)


class SqlSource:
    kind = "database"

    def __init__(self, db: _Db, label: str, resolver: Resolver, tables: set[str]) -> None:
        self.db = db
        self.label = label
        self.resolver = resolver
        self.tables = tables

    def _in(self, column: str, cast: str = "text") -> str:
        return self.db.any_of(column, cast)

    async def experiments(self) -> list[SourceExperiment]:
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for exp_id, key, value in await self.db.fetch(
            "SELECT experiment_id, key, value FROM experiment_tags"
        ):
            tags[exp_id][key] = value if value is not None else ""
        rows = await self.db.fetch(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
            "last_update_time FROM experiments ORDER BY experiment_id"
        )
        return [
            SourceExperiment(
                experiment_id=str(row[0]),
                name=row[1],
                artifact_location=row[2] or "",
                lifecycle_stage=row[3] or "active",
                creation_time=row[4],
                last_update_time=row[5],
                tags=tags.get(row[0], {}),
            )
            for row in rows
        ]

    async def parents(self) -> dict[str, str]:
        rows = await self.db.fetch(
            "SELECT run_uuid, value FROM tags WHERE key = 'mlflow.parentRunId' "
            "AND value IS NOT NULL"
        )
        return {run_id: parent for run_id, parent in rows}

    async def count_runs(self, experiment_ids: list[str]) -> int | None:
        rows = await self.db.fetch(
            f"SELECT COUNT(*) FROM runs WHERE {self._in('experiment_id', 'int')}",
            (self.db.ids([int(x) for x in experiment_ids]),),
        )
        return int(rows[0][0])

    async def runs(
        self, experiment_ids: list[str], size: BatchSize
    ) -> AsyncIterator[list[SourceRun]]:
        after = ""
        experiments = self.db.ids([int(x) for x in experiment_ids])
        while True:
            rows = await self.db.fetch(
                "SELECT run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
                "lifecycle_stage, deleted_time, artifact_uri FROM runs "
                f"WHERE {self._in('experiment_id', 'int')} AND run_uuid > ? "
                "ORDER BY run_uuid LIMIT ?",
                (experiments, after, size.runs),
            )
            if not rows:
                return
            yield await self._complete(rows)
            after = rows[-1][0]

    async def _complete(self, rows: list[tuple[Any, ...]]) -> list[SourceRun]:
        """Runs with their tags, params, latest metrics, inputs and outputs."""
        ids = [row[0] for row in rows]
        runs = {
            row[0]: SourceRun(
                run_id=row[0],
                experiment_id=str(row[1]),
                name=row[2] or "",
                user_id=row[3] or "",
                status=row[4] or "RUNNING",
                start_time=row[5],
                end_time=row[6],
                lifecycle_stage=row[7] or "active",
                deleted_time=row[8],
                artifact_uri=row[9] or "",
                tags={},
                params={},
                datasets=[],
                model_inputs=[],
                outputs=[],
                latest={},
            )
            for row in rows
        }
        bound = (self.db.ids(ids),)
        for run_id, key, value in await self.db.fetch(
            f"SELECT run_uuid, key, value FROM tags WHERE {self._in('run_uuid')}", bound
        ):
            runs[run_id].tags[key] = value if value is not None else ""
        for run_id, key, value in await self.db.fetch(
            f"SELECT run_uuid, key, value FROM params WHERE {self._in('run_uuid')}", bound
        ):
            runs[run_id].params[key] = value
        for run_id, key, value, ts, step, nan in await self.db.fetch(
            "SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics "
            f"WHERE {self._in('run_uuid')}",
            bound,
        ):
            runs[run_id].latest[key] = (step, ts, _float(value, nan))
        if "inputs" in self.tables:
            await self._inputs(runs, bound)
        return [runs[run_id] for run_id in ids]

    async def _inputs(self, runs: dict[str, SourceRun], bound: tuple[Any, ...]) -> None:
        datasets = await self.db.fetch(
            "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, "
            "d.dataset_source, d.dataset_schema, d.dataset_profile FROM inputs i "
            "JOIN datasets d ON d.dataset_uuid = i.source_id "
            f"WHERE i.destination_type = 'RUN' AND {self._in('i.destination_id')} "
            "ORDER BY i.destination_id, i.input_uuid",
            bound,
        )
        tags: dict[str, list[Tag]] = defaultdict(list)
        if datasets:
            for input_id, name, value in await self.db.fetch(
                "SELECT input_uuid, name, value FROM input_tags "
                f"WHERE {self._in('input_uuid')} ORDER BY input_uuid, name",
                (self.db.ids([row[1] for row in datasets]),),
            ):
                tags[input_id].append(Tag(name, value))
        for run_id, input_id, name, digest, source_type, source, schema, profile in datasets:
            runs[run_id].datasets.append(
                DatasetInput(
                    name=name,
                    digest=digest,
                    source_type=source_type,
                    source=source,
                    schema=schema,
                    profile=profile,
                    tags=tags.get(input_id, []),
                )
            )
        for kind, run_id, model_id, step in await self.db.fetch(
            "SELECT source_type, source_id, destination_id, step FROM inputs "
            "WHERE source_type IN ('RUN_INPUT', 'RUN_OUTPUT') "
            f"AND {self._in('source_id')} ORDER BY source_id, destination_id, step",
            bound,
        ):
            if kind == "RUN_INPUT":
                runs[run_id].model_inputs.append(model_id)
            else:
                runs[run_id].outputs.append(ModelOutput(model_id, int(step or 0)))

    async def metric_counts(self, run_ids: list[str]) -> dict[tuple[str, str], int] | None:
        rows = await self.db.fetch(
            f"SELECT run_uuid, key, COUNT(*) FROM metrics WHERE {self._in('run_uuid')} "
            "GROUP BY run_uuid, key",
            (self.db.ids(run_ids),),
        )
        return {(run_id, key): int(count) for run_id, key, count in rows}

    async def histories(self, wanted: dict[str, list[str] | None]) -> dict[str, list[Point]]:
        if not wanted:
            return {}
        return await self.db.histories(wanted)

    async def logged_models(self, experiment_ids: list[str]) -> list[SourceModel]:
        if "logged_models" not in self.tables:
            return []
        experiments = (self.db.ids([int(x) for x in experiment_ids]),)
        rows = await self.db.fetch(
            "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
            "last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id "
            f"FROM logged_models WHERE {self._in('experiment_id', 'int')} ORDER BY model_id",
            experiments,
        )
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        params: dict[str, dict[str, str]] = defaultdict(dict)
        for model_id, key, value in await self.db.fetch(
            "SELECT model_id, tag_key, tag_value FROM logged_model_tags "
            f"WHERE {self._in('experiment_id', 'int')}",
            experiments,
        ):
            tags[model_id][key] = value
        for model_id, key, value in await self.db.fetch(
            "SELECT model_id, param_key, param_value FROM logged_model_params "
            f"WHERE {self._in('experiment_id', 'int')}",
            experiments,
        ):
            params[model_id][key] = value
        return [
            SourceModel(
                model_id=row[0],
                experiment_id=str(row[1]),
                name=row[2],
                artifact_location=row[3],
                creation_time=row[4],
                last_updated_time=row[5],
                status=_MODEL_STATUS.get(row[6], "LOGGED_MODEL_STATUS_UNSPECIFIED"),
                lifecycle_stage=row[7] or "active",
                model_type=row[8],
                source_run_id=row[9],
                tags=tags.get(row[0], {}),
                params=params.get(row[0], {}),
            )
            for row in rows
        ]

    async def registry(self) -> list[SourceRegisteredModel]:
        if "registered_models" not in self.tables:
            return []
        fetch = self.db.fetch
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for name, key, value in await fetch("SELECT name, key, value FROM registered_model_tags"):
            tags[name][key] = value or ""
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        for name, alias, version in await fetch(
            "SELECT name, alias, version FROM registered_model_aliases"
        ):
            aliases[name][alias] = int(version)
        version_tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        for name, version, key, value in await fetch(
            "SELECT name, version, key, value FROM model_version_tags"
        ):
            version_tags[(name, int(version))][key] = value or ""
        versions: dict[str, list[SourceVersion]] = defaultdict(list)
        for row in await fetch(
            "SELECT name, version, creation_time, last_updated_time, description, user_id, "
            "current_stage, source, storage_location, run_id, run_link FROM model_versions "
            "ORDER BY name, version"
        ):
            name, number = row[0], int(row[1])
            versions[name].append(
                SourceVersion(
                    version=number,
                    creation_time=row[2],
                    last_updated_time=row[3],
                    description=row[4],
                    user_id=row[5],
                    stage=row[6] or "None",
                    source=row[7] or "",
                    storage_location=row[8],
                    run_id=row[9],
                    run_link=row[10],
                    tags=version_tags.get((name, number), {}),
                    deleted=row[6] == "Deleted_Internal",
                )
            )
        models: dict[str, SourceRegisteredModel] = {}
        for name, created, updated, description in await fetch(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models "
            "ORDER BY name"
        ):
            models.setdefault(  # one model per name, whatever the workspace
                name,
                SourceRegisteredModel(
                    name=name,
                    creation_time=created,
                    last_updated_time=updated,
                    description=description,
                    tags=tags.get(name, {}),
                    aliases=aliases.get(name, {}),
                    versions=versions.get(name, []),
                ),
            )
        return list(models.values())

    def artifacts(self, uri: str) -> ArtifactReader | None:
        return self.resolver.reader(uri)

    def reference(self, uri: str) -> str:
        return self.resolver.reference(uri)

    async def close(self) -> None:
        await self.db.close()
        if self.resolver.http is not None:
            await self.resolver.http.aclose()


async def open_sql_source(uri: str, resolver: Resolver) -> tuple[SqlSource, list[str]]:
    """The MLflow database at ``uri`` (``sqlite:///...``, ``postgresql://...``), and any
    warnings about it."""
    db: _Db
    scheme, _, rest = uri.partition("://")
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path or not Path(path).is_file():
            raise SourceUnavailable(f"no MLflow database at {path or uri!r}")
        db = _SQLite(path)
        label = f"sqlite:///{Path(path).resolve()}"
    else:
        # SQLAlchemy spells drivers into the scheme (postgresql+psycopg2://).
        plain = "postgresql://" + rest
        db = await _Postgres.open(plain)
        label = describe_source(plain)
    try:
        tables = await db.tables()
        missing = [t for t in _REQUIRED_TABLES if t not in tables]
        if missing:
            raise SourceUnavailable(
                f"{label} is not an MLflow tracking database (no table {missing[0]!r})"
            )
        warnings = []
        if "alembic_version" in tables:
            rows = await db.fetch("SELECT version_num FROM alembic_version")
            revision = rows[0][0] if rows else "none"
            if revision != KNOWN_REVISION:
                warnings.append(
                    f"the database is at MLflow schema revision {revision}; this import "
                    f"reads MLflow 3.17's ({KNOWN_REVISION})"
                )
    except BaseException:
        await db.close()
        raise
    return SqlSource(db, label, resolver, tables), warnings
