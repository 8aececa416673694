"""Answer a decision's lookups from the read model, inside the append transaction.

Each lookup becomes one query (``?`` placeholders) plus a conversion of its rows, for every
backend. Row locks matter only where writers run concurrently (PostgreSQL): ``share``
becomes FOR KEY SHARE, which only a delete or restore (FOR UPDATE) waits for, and a name
being claimed takes a transaction-scoped advisory lock on the name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg

from trackledger.eventlog import lookups as q
from trackledger.eventlog.postgres_sql import numbered
from trackledger.eventlog.trace_lookups import TRACE_LOOKUPS
from trackledger.projections.auth_lookups_sql import auth_lookup_query
from trackledger.projections.registry_lookups_sql import registry_lookup_query
from trackledger.projections.trace_lookups import trace_lookup_query

__all__ = [
    "LookupQuery",
    "answer_postgres",
    "answer_postgres_many",
    "answer_sqlite",
    "answer_sqlite_many",
    "lookup_query",
    "run_state",
]

_RUN_COLUMNS = (
    "run_id, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, "
    "lifecycle_stage, deleted_time"
)
_EXPERIMENT_COLUMNS = (
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, "
    "deleted_time"
)
_LOCKS = {"share": " FOR KEY SHARE", "update": " FOR UPDATE"}
Rows = list[tuple[Any, ...]]


class LookupQuery(NamedTuple):
    sql: str
    params: tuple[Any, ...]
    convert: Callable[[Rows], Any]


def run_state(row: tuple[Any, ...]) -> q.RunState:
    return q.RunState(
        run_id=row[0],
        experiment_id=str(row[1]),
        run_name=row[2],
        user_id=row[3],
        status=row[4],
        start_time=row[5],
        end_time=row[6],
        artifact_uri=row[7],
        lifecycle_stage=row[8],
        deleted_time=row[9],
    )


def _experiment(rows: Rows) -> q.ExperimentState | None:
    if not rows:
        return None
    row = rows[0]
    return q.ExperimentState(
        experiment_id=str(row[0]),
        name=row[1],
        artifact_location=row[2],
        lifecycle_stage=row[3],
        creation_time=row[4],
        last_update_time=row[5],
        deleted_time=row[6],
    )


def _ids(rows: Rows) -> list[Any]:
    return [row[0] for row in rows]


def _children(rows: Rows) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for parent, child in rows:
        out.setdefault(parent, []).append(child)
    return out


def _one_run(rows: Rows) -> q.RunState | None:
    return run_state(rows[0]) if rows else None


def _pairs(rows: Rows) -> dict[str, str]:
    return {row[0]: row[1] for row in rows}


def _keys(sql: str, owner: Any, keys: list[str]) -> LookupQuery:
    marks = ",".join("?" * len(keys)) or "NULL"
    return LookupQuery(sql.format(marks=marks), (owner, *keys), _pairs)


def lookup_query(lookup: q.Lookup, dialect: str) -> LookupQuery:  # noqa: C901 - one case each
    if isinstance(lookup, TRACE_LOOKUPS):
        return LookupQuery(*trace_lookup_query(lookup, dialect))

    def lock(mode: str) -> str:
        return _LOCKS[mode] if dialect == "postgres" else ""

    auth = auth_lookup_query(lookup, dialect)
    if auth is not None:
        return LookupQuery(*auth)
    registry = registry_lookup_query(lookup, dialect)
    if registry is not None:
        return LookupQuery(*registry)

    match lookup:
        case q.GetRun():
            return LookupQuery(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ? "
                f"AND experiment_id IS NOT NULL{lock(lookup.lock)}",
                (lookup.run_id,),
                _one_run,
            )
        case q.GetParams():
            return _keys(
                "SELECT key, value FROM params WHERE run_id = ? AND key IN ({marks})",
                lookup.run_id,
                lookup.keys,
            )
        case q.GetRunTags():
            return _keys(
                "SELECT key, value FROM run_tags WHERE run_id = ? AND key IN ({marks}) "
                "AND value IS NOT NULL",
                lookup.run_id,
                lookup.keys,
            )
        case q.GetExperiment():
            return LookupQuery(
                f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments "
                f"WHERE experiment_id = ? AND name IS NOT NULL{lock(lookup.lock)}",
                (int(lookup.experiment_id),),
                _experiment,
            )
        case q.GetExperimentByName():
            if dialect == "postgres" and lookup.claim:
                return LookupQuery(
                    "WITH claim AS (SELECT pg_advisory_xact_lock(hashtextextended(?, 0))) "
                    f"SELECT {_EXPERIMENT_COLUMNS} FROM claim, experiments WHERE name = ?",
                    (f"experiment-name:{lookup.name}", lookup.name),
                    _experiment,
                )
            return LookupQuery(
                f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE name = ?",
                (lookup.name,),
                _experiment,
            )
        case q.NextExperimentId():
            if dialect == "postgres":
                return LookupQuery("SELECT nextval('experiment_ids')", (), lambda r: str(r[0][0]))
            # A counter, not MAX(id)+1: a purged experiment's id is never handed out again.
            return LookupQuery(
                "INSERT INTO counters (name, value) VALUES ('experiment_id', "
                "COALESCE((SELECT MAX(experiment_id) FROM experiments), 0) + 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                (),
                lambda r: str(r[0][0]),
            )
        case q.GetExperimentTags():
            return _keys(
                "SELECT key, value FROM experiment_tags WHERE experiment_id = ? "
                "AND key IN ({marks}) AND value IS NOT NULL",
                int(lookup.experiment_id),
                lookup.keys,
            )
        case q.GetExperimentRuns():
            return LookupQuery(
                "SELECT run_id FROM runs WHERE experiment_id = ? AND lifecycle_stage = ? "
                "ORDER BY run_id",
                (int(lookup.experiment_id), lookup.lifecycle_stage),
                lambda rows: [row[0] for row in rows],
            )
        case q.GetDescendants():
            return LookupQuery(
                "WITH RECURSIVE tree(run_id) AS (SELECT run_id FROM run_tags "
                "WHERE key = 'mlflow.parentRunId' AND value = ? "
                "UNION SELECT t.run_id FROM run_tags t JOIN tree ON t.value = tree.run_id "
                "AND t.key = 'mlflow.parentRunId') SELECT run_id FROM tree ORDER BY run_id",
                (lookup.run_id,),
                _ids,
            )
        case q.GetChildren():
            marks = ",".join("?" * len(lookup.run_ids)) or "NULL"
            return LookupQuery(
                "SELECT value, run_id FROM run_tags WHERE key = 'mlflow.parentRunId' "
                f"AND value IN ({marks}) ORDER BY value, run_id",
                tuple(lookup.run_ids),
                _children,
            )
        case q.GetRunsDeletedWith():
            return LookupQuery(
                "SELECT run_id FROM runs WHERE lifecycle_stage = 'deleted' "
                "AND deleted_cause = ? ORDER BY run_id",
                (lookup.cascade,),
                _ids,
            )
        case q.GetRunsStartedBefore():
            return LookupQuery(
                "SELECT run_id FROM runs WHERE experiment_id = ? AND lifecycle_stage = 'active' "
                f"AND start_time <= ? ORDER BY start_time, run_id LIMIT ?{lock('update')}",
                (int(lookup.experiment_id), lookup.max_time, lookup.limit),
                _ids,
            )
        case q.GetRunsDeletedSince():
            return LookupQuery(
                "SELECT run_id FROM runs WHERE experiment_id = ? AND lifecycle_stage = 'deleted' "
                f"AND deleted_time >= ? ORDER BY deleted_time, run_id LIMIT ?{lock('update')}",
                (int(lookup.experiment_id), lookup.min_time, lookup.limit),
                _ids,
            )
        case q.GetPurgedRun():
            return LookupQuery(
                "SELECT purged_time FROM purged_runs WHERE run_id = ?",
                (lookup.run_id,),
                lambda rows: rows[0][0] if rows else None,
            )
        case q.GetExpired():
            table, key = (
                ("experiments", "experiment_id") if lookup.experiments else ("runs", "run_id")
            )
            return LookupQuery(
                f"SELECT {key} FROM {table} WHERE lifecycle_stage = 'deleted' "
                f"AND deleted_time <= ? ORDER BY deleted_time, {key} LIMIT ?",
                (lookup.cutoff, lookup.limit),
                lambda rows: [str(row[0]) for row in rows],
            )
        case q.GetLoggedModel():
            return LookupQuery(
                "SELECT model_id, experiment_id, name, status, lifecycle_stage, "
                "artifact_location, source_run_id "
                "FROM logged_models WHERE model_id = ? AND experiment_id IS NOT NULL",
                (lookup.model_id,),
                lambda rows: (
                    q.LoggedModelState(
                        model_id=rows[0][0],
                        experiment_id=str(rows[0][1]),
                        name=rows[0][2],
                        status=rows[0][3],
                        lifecycle_stage=rows[0][4],
                        artifact_location=rows[0][5] or "",
                        source_run_id=rows[0][6],
                    )
                    if rows
                    else None
                ),
            )
        case q.CountStreamEvents():
            return LookupQuery(
                "SELECT COUNT(*) FROM events WHERE stream_id = ?",
                (lookup.stream_id,),
                lambda rows: int(rows[0][0]),
            )
    raise TypeError(f"unknown lookup {lookup!r}")


def answer_sqlite(conn: sqlite3.Connection, lookup: q.Lookup) -> Any:
    query = lookup_query(lookup, "sqlite")
    return query.convert(conn.execute(query.sql, query.params).fetchall())


async def answer_postgres(conn: asyncpg.Connection, lookup: q.Lookup) -> Any:
    query = lookup_query(lookup, "postgres")
    rows = await conn.fetch(numbered(query.sql), *query.params)
    return query.convert([tuple(row) for row in rows])


class ManyQuery(NamedTuple):
    """One query answering several lookups; ``place`` writes their answers into a list."""

    sql: str
    params: tuple[Any, ...]
    place: Callable[[Rows, list[Any]], None]


def many_queries(lookups: list[q.Lookup], backend: str) -> list[ManyQuery]:
    """Queries answering lookups of unrelated decisions: the runs and the params that a
    group of log-batch decisions asks for are read in one query each (on PostgreSQL the
    runs are locked in run id order, the order every group takes them in); any other
    lookup gets its own query."""
    plan: list[ManyQuery] = []
    runs: dict[str, list[tuple[int, str]]] = {}
    params: list[tuple[int, q.GetParams]] = []
    for i, lookup in enumerate(lookups):
        if isinstance(lookup, q.GetRun):
            runs.setdefault(lookup.lock, []).append((i, lookup.run_id))
        elif isinstance(lookup, q.GetParams):
            params.append((i, lookup))
        else:
            plan.append(_single(i, lookup_query(lookup, backend)))
    args: tuple[Any, ...]
    for mode, asked in runs.items():
        ids = sorted({run_id for _, run_id in asked})
        if backend == "postgres":
            where, args = "run_id = ANY(?::text[])", (ids,)
        else:
            where, args = f"run_id IN ({','.join('?' * len(ids))})", tuple(ids)
        lock = _LOCKS[mode] if backend == "postgres" else ""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE {where} AND experiment_id IS NOT NULL"
        plan.append(ManyQuery(f"{sql} ORDER BY run_id{lock}", args, _place_runs(asked)))
    if params:
        pairs = [(lookup.run_id, key) for _, lookup in params for key in lookup.keys]
        if backend == "postgres":
            sql = (
                "SELECT p.run_id, p.key, p.value FROM params p "
                "JOIN unnest(?::text[], ?::text[]) AS w(run_id, key) "
                "ON p.run_id = w.run_id AND p.key = w.key"
            )
            args = ([run_id for run_id, _ in pairs], [key for _, key in pairs])
        else:
            # The pairs drive the join: `(run_id, key) IN (VALUES ...)` scanned all params.
            sql = (
                f"WITH w(run_id, key) AS (VALUES {','.join(['(?, ?)'] * len(pairs))}) "
                "SELECT p.run_id, p.key, p.value FROM w CROSS JOIN params p "
                "ON p.run_id = w.run_id AND p.key = w.key"
            )
            args = tuple(value for pair in pairs for value in pair)
        plan.append(ManyQuery(sql, args, _place_params(params)))
    return plan


def _single(i: int, query: LookupQuery) -> ManyQuery:
    def place(rows: Rows, answers: list[Any]) -> None:
        answers[i] = query.convert(rows)

    return ManyQuery(query.sql, query.params, place)


def _place_runs(asked: list[tuple[int, str]]) -> Callable[[Rows, list[Any]], None]:
    def place(rows: Rows, answers: list[Any]) -> None:
        found = {row[0]: run_state(row) for row in rows}
        for i, run_id in asked:
            answers[i] = found.get(run_id)

    return place


def _place_params(asked: list[tuple[int, q.GetParams]]) -> Callable[[Rows, list[Any]], None]:
    def place(rows: Rows, answers: list[Any]) -> None:
        logged: dict[str, dict[str, str]] = {}
        for run_id, key, value in rows:
            logged.setdefault(run_id, {})[key] = value
        for i, lookup in asked:
            answers[i] = logged.get(lookup.run_id, {})

    return place


def answer_sqlite_many(conn: sqlite3.Connection, lookups: list[q.Lookup]) -> list[Any]:
    """Answers to lookups of unrelated decisions, in order (see ``many_queries``)."""
    answers: list[Any] = [None] * len(lookups)
    for query in many_queries(lookups, "sqlite"):
        query.place(conn.execute(query.sql, query.params).fetchall(), answers)
    return answers


async def answer_postgres_many(conn: asyncpg.Connection, lookups: list[q.Lookup]) -> list[Any]:
    """Answers to lookups of unrelated decisions, in order (see ``many_queries``)."""
    answers: list[Any] = [None] * len(lookups)
    for query in many_queries(lookups, "postgres"):
        rows = await conn.fetch(numbered(query.sql), *query.params)
        query.place([tuple(row) for row in rows], answers)
    return answers
