"""Execute read-model changes on a synchronous sqlite3 connection.

Runs inside the append transaction on the writer thread (and in rebuilds). Every statement
is a merge whose result does not depend on the order changes arrive in; ``changes.py`` lists
the rules.
"""

from __future__ import annotations

import sqlite3

import msgspec
from trackledger.eventlog.events import AnyEvent
from trackledger.projections import changes as ch
from trackledger.projections.numbers import as_number

__all__ = ["SQLiteProjector"]

_tags_encoder = msgspec.msgpack.Encoder()

# A field is replaced only by a write from a later log position; ``pos`` 0 means "the change
# does not touch this field". SQLite evaluates SET expressions against the old row.
_RUN_UPSERT = """
INSERT INTO runs{s} (run_id, experiment_id, user_id, start_time, artifact_uri,
    name, name_pos, status, status_pos, end_time, end_time_pos,
    lifecycle_stage, deleted_time, lifecycle_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
    experiment_id = COALESCE(runs{s}.experiment_id, excluded.experiment_id),
    user_id = COALESCE(runs{s}.user_id, excluded.user_id),
    start_time = COALESCE(runs{s}.start_time, excluded.start_time),
    artifact_uri = COALESCE(runs{s}.artifact_uri, excluded.artifact_uri),
    name = CASE WHEN excluded.name_pos > runs{s}.name_pos
        THEN excluded.name ELSE runs{s}.name END,
    name_pos = MAX(excluded.name_pos, runs{s}.name_pos),
    status = CASE WHEN excluded.status_pos > runs{s}.status_pos
        THEN excluded.status ELSE runs{s}.status END,
    status_pos = MAX(excluded.status_pos, runs{s}.status_pos),
    end_time = CASE WHEN excluded.end_time_pos > runs{s}.end_time_pos
        THEN excluded.end_time ELSE runs{s}.end_time END,
    end_time_pos = MAX(excluded.end_time_pos, runs{s}.end_time_pos),
    lifecycle_stage = CASE WHEN excluded.lifecycle_pos > runs{s}.lifecycle_pos
        THEN excluded.lifecycle_stage ELSE runs{s}.lifecycle_stage END,
    deleted_time = CASE WHEN excluded.lifecycle_pos > runs{s}.lifecycle_pos
        THEN excluded.deleted_time ELSE runs{s}.deleted_time END,
    lifecycle_pos = MAX(excluded.lifecycle_pos, runs{s}.lifecycle_pos)
"""

_EXPERIMENT_UPSERT = """
INSERT INTO experiments{s} (experiment_id, name, name_pos, artifact_location, creation_time,
    last_update_time, lifecycle_stage, deleted_time, lifecycle_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (experiment_id) DO UPDATE SET
    name = CASE WHEN excluded.name_pos > experiments{s}.name_pos
        THEN excluded.name ELSE experiments{s}.name END,
    name_pos = MAX(excluded.name_pos, experiments{s}.name_pos),
    artifact_location = COALESCE(experiments{s}.artifact_location, excluded.artifact_location),
    creation_time = COALESCE(experiments{s}.creation_time, excluded.creation_time),
    last_update_time = MAX(COALESCE(excluded.last_update_time, 0),
        COALESCE(experiments{s}.last_update_time, 0)),
    lifecycle_stage = CASE WHEN excluded.lifecycle_pos > experiments{s}.lifecycle_pos
        THEN excluded.lifecycle_stage ELSE experiments{s}.lifecycle_stage END,
    deleted_time = CASE WHEN excluded.lifecycle_pos > experiments{s}.lifecycle_pos
        THEN excluded.deleted_time ELSE experiments{s}.deleted_time END,
    lifecycle_pos = MAX(excluded.lifecycle_pos, experiments{s}.lifecycle_pos)
"""

_TAG_UPSERT = """
INSERT INTO {table}{s} ({owner}, key, value{num_column}, pos) VALUES (?, ?, ?{num_mark}, ?)
ON CONFLICT ({owner}, key) DO UPDATE SET value = excluded.value{num_update}, pos = excluded.pos
WHERE excluded.pos > {table}{s}.pos
"""

_PARAM_INSERT = (
    "INSERT INTO params{s} (run_id, key, value, num_value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)

_HISTORY_INSERT = """
INSERT INTO metric_history{s} (run_id, key, step, timestamp, value, is_nan)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""

# latest = max by (step, timestamp, value, is_nan): MLflow's rule, with is_nan as the last
# tie-break so that a NaN and a 0 at the same step and time resolve the same in any order.
_LATEST_UPSERT = """
INSERT INTO latest_metrics{s} AS l (run_id, key, value, timestamp, step, is_nan,
    min_value, max_value, count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, key) DO UPDATE SET
    value = CASE WHEN {newer} THEN excluded.value ELSE l.value END,
    timestamp = CASE WHEN {newer} THEN excluded.timestamp ELSE l.timestamp END,
    step = CASE WHEN {newer} THEN excluded.step ELSE l.step END,
    is_nan = CASE WHEN {newer} THEN excluded.is_nan ELSE l.is_nan END,
    min_value = MIN(COALESCE(excluded.min_value, l.min_value),
        COALESCE(l.min_value, excluded.min_value)),
    max_value = MAX(COALESCE(excluded.max_value, l.max_value),
        COALESCE(l.max_value, excluded.max_value)),
    count = l.count + excluded.count
"""
_NEWER = (
    "(excluded.step, excluded.timestamp, excluded.value, excluded.is_nan)"
    " > (l.step, l.timestamp, l.value, l.is_nan)"
)

_DATASET_INSERT = """
INSERT INTO run_datasets{s} (run_id, name, digest, source_type, source, schema, profile,
    context, tags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""
_MODEL_INPUT_INSERT = (
    "INSERT INTO run_model_inputs{s} (run_id, model_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
)


class SQLiteProjector:
    """Applies events to the projection tables (or to their ``suffix`` shadow copies)."""

    def __init__(self, suffix: str = "") -> None:
        s = suffix
        self._run = _RUN_UPSERT.format(s=s)
        self._experiment = _EXPERIMENT_UPSERT.format(s=s)
        self._run_tag = _TAG_UPSERT.format(
            table="run_tags",
            owner="run_id",
            s=s,
            num_column=", num_value",
            num_mark=", ?",
            num_update=", num_value = excluded.num_value",
        )
        self._experiment_tag = _TAG_UPSERT.format(
            table="experiment_tags",
            owner="experiment_id",
            s=s,
            num_column="",
            num_mark="",
            num_update="",
        )
        self._param = _PARAM_INSERT.format(s=s)
        self._history = _HISTORY_INSERT.format(s=s)
        self._latest = _LATEST_UPSERT.format(s=s, newer=_NEWER)
        self._dataset = _DATASET_INSERT.format(s=s)
        self._model_input = _MODEL_INPUT_INSERT.format(s=s)

    def apply(self, conn: sqlite3.Connection, event: AnyEvent, pos: int) -> None:
        for change in ch.changes_for(event, pos):
            self.execute(conn, change)

    def execute(self, conn: sqlite3.Connection, change: ch.AnyChange) -> None:
        match change:
            case ch.SetRun():
                self._set_run(conn, change)
            case ch.SetRunTags():
                conn.executemany(
                    self._run_tag,
                    [(change.run_id, k, val, as_number(val), change.pos) for k, val in change.tags],
                )
            case ch.AddParams():
                conn.executemany(
                    self._param,
                    [(change.run_id, p.key, p.value, as_number(p.value)) for p in change.params],
                )
            case ch.AddMetrics():
                self._add_metrics(conn, change)
            case ch.SetExperiment():
                self._set_experiment(conn, change)
            case ch.SetExperimentTags():
                conn.executemany(
                    self._experiment_tag,
                    [(change.experiment_id, k, val, change.pos) for k, val in change.tags],
                )
            case ch.AddInputs():
                self._add_inputs(conn, change)

    def _set_run(self, conn: sqlite3.Connection, c: ch.SetRun) -> None:
        pos = c.pos
        conn.execute(
            self._run,
            (
                c.run_id,
                c.experiment_id,
                c.user_id,
                c.start_time,
                c.artifact_uri,
                c.name,
                pos if c.name is not None else 0,
                c.status,
                pos if c.status is not None else 0,
                c.end_time,
                pos if c.end_time is not None else 0,
                c.lifecycle_stage,
                c.deleted_time,
                pos if c.lifecycle_stage is not None else 0,
            ),
        )

    def _set_experiment(self, conn: sqlite3.Connection, c: ch.SetExperiment) -> None:
        pos = c.pos
        conn.execute(
            self._experiment,
            (
                c.experiment_id,
                c.name,
                pos if c.name is not None else 0,
                c.artifact_location,
                c.creation_time,
                c.last_update_time,
                c.lifecycle_stage,
                c.deleted_time,
                pos if c.lifecycle_stage is not None else 0,
            ),
        )

    def _add_metrics(self, conn: sqlite3.Connection, c: ch.AddMetrics) -> None:
        # NaN is stored as 0 with is_nan set (SQLite has no NaN; MLflow does the same).
        series: dict[str, list[tuple[str, str, int, int, float, int]]] = {}
        for m in c.metrics:
            nan = m.value != m.value
            row = (c.run_id, m.key, m.step, m.timestamp, 0.0 if nan else m.value, int(nan))
            series.setdefault(m.key, []).append(row)
        for key, rows in series.items():
            inserted = conn.executemany(self._history, rows).rowcount
            latest = max(rows, key=lambda r: (r[2], r[3], r[4], r[5]))
            finite = [r[4] for r in rows if not r[5]]
            conn.execute(
                self._latest,
                (
                    c.run_id,
                    key,
                    latest[4],
                    latest[3],
                    latest[2],
                    latest[5],
                    min(finite) if finite else None,
                    max(finite) if finite else None,
                    inserted,
                ),
            )

    def _add_inputs(self, conn: sqlite3.Connection, c: ch.AddInputs) -> None:
        rows = []
        for d in c.datasets:
            context = next((t.value for t in d.tags if t.key == "mlflow.data.context"), None)
            tags = _tags_encoder.encode([(t.key, t.value) for t in d.tags])
            rows.append(
                (
                    c.run_id,
                    d.name,
                    d.digest,
                    d.source_type,
                    d.source,
                    d.schema,
                    d.profile,
                    context,
                    tags,
                )
            )
        conn.executemany(self._dataset, rows)
        conn.executemany(self._model_input, [(c.run_id, m) for m in c.model_ids])
