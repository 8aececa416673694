"""The read model over SQL: experiments, runs, searches and metric histories.

One implementation for every backend: the SQL is written with ``?`` placeholders and runs
through a ``FetchAll`` port (SQLite's reader pool, or an asyncpg adapter that numbers the
placeholders). Every call costs a constant number of round trips, whatever the page size:
the rows of a page's runs are fetched table by table with ``IN`` lists, the tables at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec

from trackledger.eventlog.events import DatasetInput, ModelOutput, Param, Tag
from trackledger.projections.fetch import FetchAll, FetchMany, Rows, gathered
from trackledger.projections.run_search import RunSearcher
from trackledger.projections.search import (
    VIEW_STAGES,
    SqlBuilder,
    compile_experiment_search,
)
from trackledger.projections.search.ast import Field
from trackledger.projections.search.pages import Resume
from trackledger.projections.search.request import RunSearch, run_search
from trackledger.projections.search.resume import (
    next_resume,
    past_the_values,
    resumed,
    resuming_field,
    search_digest,
)
from trackledger.projections.sql_lookups import run_state
from trackledger.projections.views import (
    ExperimentView,
    LoggedModelView,
    MetricValue,
    ModelMetric,
    Page,
    RunTree,
    RunView,
    TreeNode,
)

__all__ = ["FetchAll", "FetchMany", "SqlReadModel"]


T = TypeVar("T")
_CHUNK = 5000  # ids per IN list, under every backend's limit on bound parameters
_tags_decoder = msgspec.msgpack.Decoder(list[tuple[str, str]])


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _float(value: float, is_nan: int) -> float:
    return float("nan") if is_nan else value


def _grouped(rows: Rows, build: Callable[[tuple[Any, ...]], T]) -> dict[Any, list[T]]:
    """Rows whose first column is an owner id, built and grouped by owner (in order)."""
    out: dict[Any, list[T]] = defaultdict(list)
    for row in rows:
        out[row[0]].append(build(row[1:]))
    return out


def _key_values_sql(table: str, owner: str, count: int) -> str:
    """A key/value table's (tags, params) rows of ``count`` owners; tag tombstones skipped."""
    return (
        f"SELECT {owner}, key, value FROM {table} WHERE {owner} IN ({_marks(count)}) "
        f"AND value IS NOT NULL ORDER BY {owner}, key"
    )


def _dataset(row: tuple[Any, ...]) -> DatasetInput:
    return DatasetInput(
        name=row[0],
        digest=row[1],
        source_type=row[2],
        source=row[3],
        schema=row[4],
        profile=row[5],
        tags=[Tag(k, v) for k, v in _tags_decoder.decode(row[6])],
    )


class SqlReadModel:
    def __init__(
        self,
        fetchall: FetchAll,
        dialect: str,
        fetch_many: FetchMany | None = None,
        commit_mark: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """``fetch_many`` reads a page's tables; by default each through ``fetchall``, at
        once. ``commit_mark``: see ``RunSearcher``."""
        self._fetchall = fetchall
        self._fetch_many = fetch_many or gathered(fetchall)
        self._dialect = dialect
        self._runs = RunSearcher(fetchall, dialect, commit_mark)

    async def _fetch_grouped(
        self, sql: str, ids: Sequence[Any], build: Callable[[tuple[Any, ...]], T]
    ) -> dict[Any, list[T]]:
        return _grouped(await self._fetchall(sql, ids), build)

    async def _key_values(
        self, table: str, owner: str, ids: Sequence[Any], build: Callable[[str, str], T]
    ) -> dict[Any, list[T]]:
        """A key/value table (tags, params) grouped by owner; tag tombstones skipped."""
        return await self._fetch_grouped(
            _key_values_sql(table, owner, len(ids)), ids, lambda row: build(row[0], row[1])
        )

    # -- experiments -------------------------------------------------------------------

    async def _experiments(self, where: str, params: tuple[Any, ...]) -> list[ExperimentView]:
        rows = await self._fetchall(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
            f"last_update_time FROM experiments WHERE name IS NOT NULL AND {where}",
            params,
        )
        if not rows:
            return []
        ids = [row[0] for row in rows]
        tags = await self._key_values("experiment_tags", "experiment_id", ids, Tag)
        return [
            ExperimentView(
                experiment_id=str(row[0]),
                name=row[1],
                artifact_location=row[2],
                lifecycle_stage=row[3],
                creation_time=row[4],
                last_update_time=row[5],
                tags=tags.get(row[0], []),
            )
            for row in rows
        ]

    async def get_experiment(self, experiment_id: str) -> ExperimentView | None:
        found = await self._experiments("experiment_id = ?", (int(experiment_id),))
        return found[0] if found else None

    async def get_experiment_by_name(self, name: str) -> ExperimentView | None:
        found = await self._experiments("name = ?", (name,))
        return found[0] if found else None

    async def search_experiments(
        self,
        *,
        filter_text: str | None,
        order_by: list[str],
        view_type: str,
        max_results: int,
        offset: int,
        restrict: tuple[bool, tuple[int, ...]] | None = None,
    ) -> Page:
        b = SqlBuilder(self._dialect)
        sql = compile_experiment_search(
            b,
            filter_text=filter_text,
            order_by=order_by,
            stages=VIEW_STAGES[view_type],
            limit=max_results + 1,
            offset=offset,
            restrict=restrict,
        )
        ids = [row[0] for row in await self._fetchall(sql, b.params)]
        more = len(ids) > max_results
        ids = ids[:max_results]
        by_id = (
            {
                e.experiment_id: e
                for e in await self._experiments(
                    f"experiment_id IN ({_marks(len(ids))})", tuple(ids)
                )
            }
            if ids
            else {}
        )
        items: list[msgspec.Struct] = [by_id[str(i)] for i in ids if str(i) in by_id]
        return Page(items, offset + max_results if more else None)

    # -- runs --------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> RunView | None:
        found = await self.runs_by_id([run_id])
        return found[0] if found else None

    async def runs_by_id(self, run_ids: list[str]) -> list[RunView]:
        """The runs with these ids, in the order given; unknown ids are skipped."""
        views: list[RunView] = []
        for start in range(0, len(run_ids), _CHUNK):
            views.extend(await self._run_chunk(run_ids[start : start + _CHUNK]))
        return views

    async def _run_chunk(self, run_ids: list[str]) -> list[RunView]:
        if not run_ids:
            return []
        marks = _marks(len(run_ids))
        # Every table of the page in one read: on SQLite one job on one connection (four
        # connections' threads at once contended for the GIL: 9 ms a page, against 3-4);
        # on PostgreSQL each on a connection of its own, one round trip for them all.
        runs, tags, params, metrics, datasets, models, outputs = await self._fetch_many(
            [
                (
                    "SELECT run_id, experiment_id, name, user_id, status, start_time, "
                    "end_time, artifact_uri, lifecycle_stage, deleted_time FROM runs "
                    f"WHERE run_id IN ({marks}) AND experiment_id IS NOT NULL",
                    run_ids,
                ),
                (_key_values_sql("run_tags", "run_id", len(run_ids)), run_ids),
                (_key_values_sql("params", "run_id", len(run_ids)), run_ids),
                (
                    "SELECT run_id, key, value, timestamp, step, is_nan FROM latest_metrics "
                    f"WHERE run_id IN ({marks}) ORDER BY run_id, key",
                    run_ids,
                ),
                (
                    "SELECT run_id, name, digest, source_type, source, schema, profile, tags "
                    f"FROM run_datasets WHERE run_id IN ({marks}) ORDER BY run_id, name, digest",
                    run_ids,
                ),
                (
                    f"SELECT run_id, model_id FROM run_model_inputs WHERE run_id IN ({marks}) "
                    "ORDER BY run_id, model_id",
                    run_ids,
                ),
                (
                    f"SELECT run_id, model_id, step FROM run_outputs WHERE run_id IN ({marks}) "
                    "ORDER BY run_id, step, model_id",
                    run_ids,
                ),
            ]
        )
        tags_of = _grouped(tags, lambda r: Tag(r[0], r[1]))
        params_of = _grouped(params, lambda r: Param(r[0], r[1]))
        metrics_of = _grouped(metrics, lambda r: MetricValue(r[0], _float(r[1], r[4]), r[2], r[3]))
        datasets_of = _grouped(datasets, _dataset)
        models_of = _grouped(models, lambda r: str(r[0]))
        outputs_of = _grouped(outputs, lambda r: ModelOutput(r[0], r[1]))
        by_id = {
            row[0]: RunView(
                info=run_state(row),
                metrics=metrics_of.get(row[0], []),
                params=params_of.get(row[0], []),
                tags=tags_of.get(row[0], []),
                datasets=datasets_of.get(row[0], []),
                model_ids=models_of.get(row[0], []),
                outputs=outputs_of.get(row[0], []),
            )
            for row in runs
        }
        return [by_id[run_id] for run_id in run_ids if run_id in by_id]

    async def search_runs(
        self,
        *,
        experiment_ids: list[int],
        filter_text: str | None,
        order_by: list[str],
        view_type: str,
        max_results: int,
        offset: int,
        resume: Resume | None = None,
    ) -> Page:
        search = run_search(
            filter_text=filter_text,
            order_by=order_by,
            experiment_ids=experiment_ids,
            stages=VIEW_STAGES[view_type],
            limit=max_results + 1,
            offset=offset,
        )
        field = resuming_field(search)
        digest = search_digest(experiment_ids, filter_text, order_by, view_type) if field else ""
        if field is None or resume is None or resume.search != digest:
            resume = None  # a token of another search, or of an offset: read at the offset
            ids = await self._runs.run_ids(search)
        else:
            ids = await self._resumed_ids(search, field, resume)
        more = len(ids) > max_results
        runs = await self.runs_by_id(ids[:max_results])
        if not more:
            return Page(list(runs), None)
        after = None
        if field is not None:
            extremes = await self._extremes(field, runs) if field.aggregate != "latest" else {}
            after = next_resume(search, field, runs, resume, digest, extremes)
        return Page(list(runs), offset + max_results, after)

    async def _extremes(self, field: Field, runs: list[RunView]) -> dict[str, float | None]:
        """The ``MIN()`` or ``MAX()`` of ``field``'s metric in each of these runs that has
        one (the runs' views show only the latest value)."""
        column = "min_value" if field.aggregate == "min" else "max_value"
        ids = [run.info.run_id for run in runs]
        found: dict[str, float | None] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = await self._fetchall(
                f"SELECT run_id, {column} FROM latest_metrics "
                f"WHERE key = ? AND run_id IN ({_marks(len(chunk))})",
                (field.key, *chunk),
            )
            found.update((run_id, value) for run_id, value in rows)
        return found

    async def _resumed_ids(self, search: RunSearch, field: Field, resume: Resume) -> list[str]:
        """The page's run ids from ``resume``'s value on. Where those end within the page,
        its rest is the first runs after every value (``past_the_values``; none past the
        tail, the order's end), or, where the filter cannot name them or the page holds none
        of the values (the page before ended with them, or runs were deleted since), read at
        its offset: a read of every run before it, 200-530 ms deep in an order of 100,000."""
        ids = await self._runs.run_ids(resumed(search, field, resume))
        if len(ids) >= search.limit or resume.tail:
            return ids
        after = past_the_values(search, field) if ids else None
        if after is None:
            rest = msgspec.structs.replace(
                search, offset=search.offset + len(ids), limit=search.limit - len(ids)
            )
            return ids + await self._runs.run_ids(rest)
        for part in after:
            if len(ids) >= search.limit:
                break
            more = msgspec.structs.replace(part, limit=search.limit - len(ids))
            ids += await self._runs.run_ids(more)
        return ids

    # -- metric history ----------------------------------------------------------------

    async def metric_history(
        self, run_id: str, key: str, *, offset: int, limit: int | None
    ) -> Page:
        sql = (
            "SELECT value, timestamp, step, is_nan FROM metric_history "
            "WHERE run_id = ? AND key = ? ORDER BY timestamp, step, value, is_nan"
        )
        params: tuple[Any, ...] = (run_id, key)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = (run_id, key, limit + 1, offset)
        rows = await self._fetchall(sql, params)
        more = limit is not None and len(rows) > limit
        if limit is not None:
            rows = rows[:limit]
        items: list[msgspec.Struct] = [
            MetricValue(key, _float(value, nan), ts, step) for value, ts, step, nan in rows
        ]
        return Page(items, offset + len(items) if more else None)

    # -- run trees ---------------------------------------------------------------------

    async def run_tree(self, run_id: str) -> RunTree | None:
        """The path from ``run_id``'s root down to it, and every run under that root."""
        up = await self._fetchall(
            "WITH RECURSIVE up(run_id, depth) AS (SELECT ?, 0 UNION ALL "
            "SELECT t.value, up.depth + 1 FROM run_tags t JOIN up ON t.run_id = up.run_id "
            "AND t.key = 'mlflow.parentRunId' WHERE t.value IS NOT NULL AND up.depth < 1000) "
            "SELECT up.run_id FROM up JOIN runs r ON r.run_id = up.run_id "
            "AND r.experiment_id IS NOT NULL ORDER BY up.depth DESC",
            (run_id,),
        )
        if not up or up[-1][0] != run_id:
            return None
        path = [row[0] for row in up]
        rows = await self._fetchall(
            # The root from the runs table: its run_id has the recursive term's collation
            # (PostgreSQL: "C", ``schema.PROBED_TEXT``), where a bare parameter has none.
            "WITH RECURSIVE down(run_id, parent_id) AS (SELECT run_id, NULL FROM runs "
            "WHERE run_id = ? UNION "
            "SELECT t.run_id, t.value FROM run_tags t JOIN down ON t.value = down.run_id "
            "AND t.key = 'mlflow.parentRunId') "
            "SELECT d.run_id, d.parent_id, r.name, r.status, r.lifecycle_stage, r.start_time "
            "FROM down d JOIN runs r ON r.run_id = d.run_id AND r.experiment_id IS NOT NULL "
            "ORDER BY r.start_time, d.run_id",
            (path[0],),
        )
        nodes = [
            TreeNode(
                run_id=r[0],
                parent_id=r[1],
                run_name=r[2],
                status=r[3],
                lifecycle_stage=r[4],
                start_time=r[5],
            )
            for r in rows
        ]
        return RunTree(path=path, nodes=nodes)

    # -- logged models -----------------------------------------------------------------

    async def logged_models(
        self, experiment_ids: list[int], model_id: str | None = None
    ) -> list[LoggedModelView]:
        """Logged models of the experiments (deleted ones too), newest first; or one model."""
        params: list[Any]
        if model_id is not None:
            where, params = "model_id = ?", [model_id]
        else:
            where = f"experiment_id IN ({_marks(len(experiment_ids))})"
            params = list(experiment_ids)
        rows = await self._fetchall(
            "SELECT model_id, experiment_id, name, artifact_location, creation_time, "
            "last_updated_time, status, source_run_id, model_type, lifecycle_stage "
            f"FROM logged_models WHERE experiment_id IS NOT NULL AND {where} "
            "ORDER BY creation_time DESC, model_id",
            params,
        )
        if not rows:
            return []
        ids = [row[0] for row in rows]
        tags = await self._key_values("logged_model_tags", "model_id", ids, Tag)
        model_params = await self._key_values("logged_model_params", "model_id", ids, Param)
        metrics = await self._fetch_grouped(
            "SELECT model_id, key, value, is_nan, timestamp, step, run_id, dataset_name, "
            f"dataset_digest FROM logged_model_metrics WHERE model_id IN ({_marks(len(ids))}) "
            "ORDER BY model_id, key, step, timestamp, run_id",
            ids,
            lambda row: ModelMetric(
                key=row[0],
                value=float("nan") if row[2] else row[1],
                timestamp=row[3],
                step=row[4],
                run_id=row[5],
                dataset_name=row[6],
                dataset_digest=row[7],
            ),
        )
        return [
            LoggedModelView(
                model_id=r[0],
                experiment_id=str(r[1]),
                name=r[2],
                artifact_uri=r[3],
                creation_time=r[4],
                last_updated_time=r[5],
                status=r[6],
                source_run_id=r[7],
                model_type=r[8],
                lifecycle_stage=r[9],
                tags=tags.get(r[0], []),
                params=model_params.get(r[0], []),
                metrics=metrics.get(r[0], []),
            )
            for r in rows
        ]
