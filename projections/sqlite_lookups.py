"""Answer a decision's lookups from SQLite's read model, inside the append transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from trackledger.eventlog import lookups as q

__all__ = ["answer"]

_RUN_COLUMNS = (
    "run_id, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, "
    "lifecycle_stage, deleted_time"
)
_EXPERIMENT_COLUMNS = (
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time"
)


def _experiment(row: tuple[Any, ...] | None) -> q.ExperimentState | None:
    if row is None:
        return None
    return q.ExperimentState(
        experiment_id=str(row[0]),
        name=row[1],
        artifact_location=row[2],
        lifecycle_stage=row[3],
        creation_time=row[4],
        last_update_time=row[5],
    )


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


def _key_values(conn: sqlite3.Connection, sql: str, owner: Any, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    marks = ",".join("?" * len(keys))
    return dict(conn.execute(sql.format(marks=marks), (owner, *keys)).fetchall())


def _next_experiment_id(conn: sqlite3.Connection) -> str:
    # A counter, not MAX(id)+1: a purged experiment's id is never handed out again.
    conn.execute(
        "INSERT INTO counters (name, value) SELECT 'experiment_id', "
        "COALESCE((SELECT MAX(experiment_id) FROM experiments), 0) "
        "WHERE NOT EXISTS (SELECT 1 FROM counters WHERE name = 'experiment_id')"
    )
    (value,) = conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'experiment_id' RETURNING value"
    ).fetchone()
    return str(value)


def answer(conn: sqlite3.Connection, lookup: q.Lookup) -> Any:
    match lookup:
        case q.GetRun():
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ? AND experiment_id IS NOT NULL",
                (lookup.run_id,),
            ).fetchone()
            return None if row is None else run_state(row)
        case q.GetParams():
            return _key_values(
                conn,
                "SELECT key, value FROM params WHERE run_id = ? AND key IN ({marks})",
                lookup.run_id,
                lookup.keys,
            )
        case q.GetRunTags():
            return _key_values(
                conn,
                "SELECT key, value FROM run_tags WHERE run_id = ? AND key IN ({marks}) "
                "AND value IS NOT NULL",
                lookup.run_id,
                lookup.keys,
            )
        case q.GetExperiment():
            return _experiment(
                conn.execute(
                    f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments "
                    "WHERE experiment_id = ? AND name IS NOT NULL",
                    (int(lookup.experiment_id),),
                ).fetchone()
            )
        case q.GetExperimentByName():
            return _experiment(
                conn.execute(
                    f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE name = ?",
                    (lookup.name,),
                ).fetchone()
            )
        case q.NextExperimentId():
            return _next_experiment_id(conn)
        case q.GetExperimentTags():
            return _key_values(
                conn,
                "SELECT key, value FROM experiment_tags WHERE experiment_id = ? "
                "AND key IN ({marks}) AND value IS NOT NULL",
                int(lookup.experiment_id),
                lookup.keys,
            )
        case q.GetExperimentRuns():
            rows = conn.execute(
                "SELECT run_id FROM runs WHERE experiment_id = ? AND lifecycle_stage = ? "
                "ORDER BY run_id",
                (int(lookup.experiment_id), lookup.lifecycle_stage),
            ).fetchall()
            return [row[0] for row in rows]
    raise TypeError(f"unknown lookup {lookup!r}")
