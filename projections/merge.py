"""The order-independent merges, as SQL and rows, for every backend.

``plan(change)`` turns a read-model change into statements with their rows. A backend's
projector only executes them (SQLite with ``executemany`` on the writer thread, PostgreSQL
through asyncpg). A field is replaced only by a write from a later log position (``pos`` 0
means "this change does not touch the field"); SET expressions read the old row on both
backends. Metrics are a separate step because the count of distinct points needs to know
how many history rows an insert really added: their rows come from ``metric_rows.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec

from trackledger.projections import changes as ch
from trackledger.projections.auth_changes import AUTH_CHANGES
from trackledger.projections.auth_merge import AuthStatements, auth_plan, auth_statements
from trackledger.projections.numbers import as_number
from trackledger.projections.registry_merge import (
    RegistryStatements,
    registry_plan,
    registry_statements,
)
from trackledger.projections.trace_changes import TRACE_CHANGES
from trackledger.projections.trace_merge import TraceStatements, trace_plan, trace_statements

__all__ = ["BLOCK_COLUMNS", "Statements", "Step", "plan", "statements"]

_tags_encoder = msgspec.msgpack.Encoder()

_RUN = """
INSERT INTO runs{s} AS t (run_id, experiment_id, user_id, start_time, artifact_uri,
    name, name_pos, status, status_pos, end_time, end_time_pos,
    lifecycle_stage, deleted_time, deleted_cause, lifecycle_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
    experiment_id = COALESCE(t.experiment_id, excluded.experiment_id),
    user_id = COALESCE(t.user_id, excluded.user_id),
    start_time = COALESCE(t.start_time, excluded.start_time),
    artifact_uri = COALESCE(t.artifact_uri, excluded.artifact_uri),
    name = CASE WHEN excluded.name_pos > t.name_pos THEN excluded.name ELSE t.name END,
    name_pos = {greatest}(excluded.name_pos, t.name_pos),
    status = CASE WHEN excluded.status_pos > t.status_pos THEN excluded.status ELSE t.status END,
    status_pos = {greatest}(excluded.status_pos, t.status_pos),
    end_time = CASE WHEN excluded.end_time_pos > t.end_time_pos
        THEN excluded.end_time ELSE t.end_time END,
    end_time_pos = {greatest}(excluded.end_time_pos, t.end_time_pos),
    lifecycle_stage = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.lifecycle_stage ELSE t.lifecycle_stage END,
    deleted_time = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.deleted_time ELSE t.deleted_time END,
    deleted_cause = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.deleted_cause ELSE t.deleted_cause END,
    lifecycle_pos = {greatest}(excluded.lifecycle_pos, t.lifecycle_pos)
"""

_EXPERIMENT = """
INSERT INTO experiments{s} AS t (experiment_id, name, name_pos, artifact_location,
    creation_time, last_update_time, lifecycle_stage, deleted_time, lifecycle_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (experiment_id) DO UPDATE SET
    name = CASE WHEN excluded.name_pos > t.name_pos THEN excluded.name ELSE t.name END,
    name_pos = {greatest}(excluded.name_pos, t.name_pos),
    artifact_location = COALESCE(t.artifact_location, excluded.artifact_location),
    creation_time = COALESCE(t.creation_time, excluded.creation_time),
    last_update_time = {greatest}(COALESCE(excluded.last_update_time, 0),
        COALESCE(t.last_update_time, 0)),
    lifecycle_stage = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.lifecycle_stage ELSE t.lifecycle_stage END,
    deleted_time = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.deleted_time ELSE t.deleted_time END,
    lifecycle_pos = {greatest}(excluded.lifecycle_pos, t.lifecycle_pos)
"""

_RUN_TAG = """
INSERT INTO run_tags{s} AS t (run_id, key, value, num_value, pos) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value,
    num_value = excluded.num_value, pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_EXPERIMENT_TAG = """
INSERT INTO experiment_tags{s} AS t (experiment_id, key, value, pos) VALUES (?, ?, ?, ?)
ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value, pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_PARAM = """
INSERT INTO params{s} (run_id, key, value, num_value) VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""

_HISTORY = """
INSERT INTO metric_history{s} (run_id, key, step, timestamp, value, is_nan)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""

# latest = max by (step, timestamp, value, is_nan): MLflow's rule, with is_nan as the last
# tie-break so that a NaN and a 0 at the same step and time resolve the same in any order.
_NEWER = (
    "(excluded.step, excluded.timestamp, excluded.value, excluded.is_nan)"
    " > (t.step, t.timestamp, t.value, t.is_nan)"
)
_LATEST = """
INSERT INTO latest_metrics{s} AS t (run_id, key, value, timestamp, step, is_nan,
    min_value, max_value, count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, key) DO UPDATE SET
    value = CASE WHEN {newer} THEN excluded.value ELSE t.value END,
    timestamp = CASE WHEN {newer} THEN excluded.timestamp ELSE t.timestamp END,
    step = CASE WHEN {newer} THEN excluded.step ELSE t.step END,
    is_nan = CASE WHEN {newer} THEN excluded.is_nan ELSE t.is_nan END,
    min_value = {least}(COALESCE(excluded.min_value, t.min_value),
        COALESCE(t.min_value, excluded.min_value)),
    max_value = {greatest}(COALESCE(excluded.max_value, t.max_value),
        COALESCE(t.max_value, excluded.max_value)),
    count = t.count + excluded.count
"""

# Per (run, key, block): the ranges of steps, times and finite values, and how many
# distinct points (NaN ones apart). Every field is a min, max or sum: any order of merges
# gives the same row.
_BLOCK_MERGE = """
ON CONFLICT (run_id, key, block) DO UPDATE SET
    min_step = {least}(t.min_step, excluded.min_step),
    max_step = {greatest}(t.max_step, excluded.max_step),
    min_ts = {least}(t.min_ts, excluded.min_ts),
    max_ts = {greatest}(t.max_ts, excluded.max_ts),
    min_value = {least}(COALESCE(excluded.min_value, t.min_value),
        COALESCE(t.min_value, excluded.min_value)),
    max_value = {greatest}(COALESCE(excluded.max_value, t.max_value),
        COALESCE(t.max_value, excluded.max_value)),
    count = t.count + excluded.count,
    nan_count = t.nan_count + excluded.nan_count
"""
BLOCK_COLUMNS = (
    "run_id, key, block, min_step, max_step, min_ts, max_ts, min_value, max_value, count, "
    "nan_count"
)
_BLOCK = (
    "INSERT INTO metric_blocks{s} AS t (" + BLOCK_COLUMNS + ") "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" + _BLOCK_MERGE
)

_MODEL = """
INSERT INTO logged_models{s} AS t (model_id, experiment_id, name, artifact_location,
    creation_time, last_updated_time, source_run_id, model_type, status, status_pos,
    lifecycle_stage, lifecycle_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (model_id) DO UPDATE SET
    experiment_id = COALESCE(t.experiment_id, excluded.experiment_id),
    name = COALESCE(t.name, excluded.name),
    artifact_location = COALESCE(t.artifact_location, excluded.artifact_location),
    creation_time = COALESCE(t.creation_time, excluded.creation_time),
    source_run_id = COALESCE(t.source_run_id, excluded.source_run_id),
    model_type = COALESCE(t.model_type, excluded.model_type),
    last_updated_time = {greatest}(COALESCE(excluded.last_updated_time, 0),
        COALESCE(t.last_updated_time, 0)),
    status = CASE WHEN excluded.status_pos > t.status_pos THEN excluded.status ELSE t.status END,
    status_pos = {greatest}(excluded.status_pos, t.status_pos),
    lifecycle_stage = CASE WHEN excluded.lifecycle_pos > t.lifecycle_pos
        THEN excluded.lifecycle_stage ELSE t.lifecycle_stage END,
    lifecycle_pos = {greatest}(excluded.lifecycle_pos, t.lifecycle_pos)
"""

_MODEL_TAG = """
INSERT INTO logged_model_tags{s} AS t (model_id, key, value, pos) VALUES (?, ?, ?, ?)
ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value, pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_MODEL_PARAM = """
INSERT INTO logged_model_params{s} (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING
"""

# As MLflow's key (model, key, time, step, run); two points on one key keep the greatest
# (value, NaN flag, dataset), so any order gives the same row.
_MODEL_METRIC = """
INSERT INTO logged_model_metrics{s} AS t (model_id, key, timestamp, step, run_id, value,
    is_nan, dataset_name, dataset_digest)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (model_id, key, timestamp, step, run_id) DO UPDATE SET value = excluded.value,
    is_nan = excluded.is_nan, dataset_name = excluded.dataset_name,
    dataset_digest = excluded.dataset_digest
WHERE (excluded.value, excluded.is_nan, COALESCE(excluded.dataset_name, ''),
    COALESCE(excluded.dataset_digest, ''))
    > (t.value, t.is_nan, COALESCE(t.dataset_name, ''), COALESCE(t.dataset_digest, ''))
"""

_RUN_OUTPUT = """
INSERT INTO run_outputs{s} (run_id, model_id, step) VALUES (?, ?, ?) ON CONFLICT DO NOTHING
"""

_DATASET = """
INSERT INTO run_datasets{s} (run_id, name, digest, source_type, source, schema, profile,
    context, tags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""

_MODEL_INPUT = (
    "INSERT INTO run_model_inputs{s} (run_id, model_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
)

_FUNCTIONS = {
    "sqlite": {"greatest": "MAX", "least": "MIN"},
    "postgres": {"greatest": "GREATEST", "least": "LEAST"},
}


_RUN_TABLES = (
    "runs",
    "run_tags",
    "params",
    "latest_metrics",
    "metric_history",
    "metric_blocks",
    "run_datasets",
    "run_model_inputs",
    "run_outputs",
    "logged_model_metrics",
)


class Statements(NamedTuple):
    run: str
    experiment: str
    run_tag: str
    experiment_tag: str
    param: str
    history: str
    latest: str
    block: str
    block_merge: str
    dataset: str
    model_input: str
    model: str
    model_tag: str
    model_param: str
    model_metric: str
    run_output: str
    purge_run: tuple[str, ...]
    purged_run: str
    purge_experiment: tuple[str, ...]
    purged_experiment: str
    auth: AuthStatements
    traces: TraceStatements
    registry: RegistryStatements


def statements(dialect: str, suffix: str = "") -> Statements:
    """The merge statements for ``dialect``, on the tables (or ``suffix`` shadow copies)."""
    f = {**_FUNCTIONS[dialect], "s": suffix}
    return Statements(
        run=_RUN.format(**f),
        experiment=_EXPERIMENT.format(**f),
        run_tag=_RUN_TAG.format(**f),
        experiment_tag=_EXPERIMENT_TAG.format(**f),
        param=_PARAM.format(**f),
        history=_HISTORY.format(**f),
        latest=_LATEST.format(newer=_NEWER, **f),
        block=_BLOCK.format(**f),
        block_merge=_BLOCK_MERGE.format(**f),
        dataset=_DATASET.format(**f),
        model_input=_MODEL_INPUT.format(**f),
        model=_MODEL.format(**f),
        model_tag=_MODEL_TAG.format(**f),
        model_param=_MODEL_PARAM.format(**f),
        model_metric=_MODEL_METRIC.format(**f),
        run_output=_RUN_OUTPUT.format(**f),
        purge_run=tuple(f"DELETE FROM {t}{suffix} WHERE run_id = ?" for t in _RUN_TABLES),
        purged_run=(
            f"INSERT INTO purged_runs{suffix} (run_id, purged_time, pos) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING"
        ),
        purge_experiment=tuple(
            f"DELETE FROM {t}{suffix} WHERE experiment_id = ?"
            for t in ("experiments", "experiment_tags")
        ),
        purged_experiment=(
            f"INSERT INTO purged_experiments{suffix} (experiment_id, purged_time, pos) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
        ),
        auth=auth_statements(dialect, suffix),
        traces=trace_statements(_FUNCTIONS[dialect], suffix),
        registry=registry_statements(dialect, suffix),
    )


class Step(NamedTuple):
    """One statement and the rows to run it with."""

    sql: str
    rows: list[tuple[Any, ...]]


def _guarded(pos: int, value: object) -> int:
    return pos if value is not None else 0


def plan(sql: Statements, change: ch.AnyChange) -> Iterator[Step]:  # noqa: C901 - one case per change
    """The statements ``change`` runs, except metrics (see ``metric_series``)."""
    if isinstance(change, TRACE_CHANGES):
        for sql_text, rows in trace_plan(sql.traces, change):
            yield Step(sql_text, rows)
        return
    match change:
        case ch.SetRun():
            c = change
            yield Step(
                sql.run,
                [
                    (
                        c.run_id,
                        c.experiment_id,
                        c.user_id,
                        c.start_time,
                        c.artifact_uri,
                        c.name,
                        _guarded(c.pos, c.name),
                        c.status,
                        _guarded(c.pos, c.status),
                        c.end_time,
                        _guarded(c.pos, c.end_time),
                        c.lifecycle_stage,
                        c.deleted_time,
                        c.deleted_cause,
                        _guarded(c.pos, c.lifecycle_stage),
                    )
                ],
            )
        case ch.SetRunTags():
            tag_rows: list[tuple[Any, ...]] = [
                (change.run_id, key, value, as_number(value), change.pos)
                for key, value in sorted(change.tags, key=lambda kv: kv[0])
            ]
            yield Step(sql.run_tag, tag_rows)
        case ch.AddParams():
            param_rows: list[tuple[Any, ...]] = [
                (change.run_id, p.key, p.value, as_number(p.value))
                for p in sorted(change.params, key=lambda p: p.key)
            ]
            yield Step(sql.param, param_rows)
        case ch.SetExperiment():
            c2 = change
            yield Step(
                sql.experiment,
                [
                    (
                        c2.experiment_id,
                        c2.name,
                        _guarded(c2.pos, c2.name),
                        c2.artifact_location,
                        c2.creation_time,
                        c2.last_update_time,
                        c2.lifecycle_stage,
                        c2.deleted_time,
                        _guarded(c2.pos, c2.lifecycle_stage),
                    )
                ],
            )
        case ch.SetExperimentTags():
            exp_rows: list[tuple[Any, ...]] = [
                (change.experiment_id, k, v, change.pos)
                for k, v in sorted(change.tags, key=lambda kv: kv[0])
            ]
            yield Step(sql.experiment_tag, exp_rows)
        case ch.AddInputs():
            datasets: list[tuple[Any, ...]] = []
            for d in change.datasets:
                context = next((t.value for t in d.tags if t.key == "mlflow.data.context"), None)
                tags = _tags_encoder.encode([(t.key, t.value) for t in d.tags])
                datasets.append(
                    (
                        change.run_id,
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
            yield Step(sql.dataset, datasets)
            yield Step(sql.model_input, [(change.run_id, m) for m in sorted(set(change.model_ids))])
        case ch.SetModel():
            m = change
            yield Step(
                sql.model,
                [
                    (
                        m.model_id,
                        m.experiment_id,
                        m.name,
                        m.artifact_location,
                        m.creation_time,
                        m.last_updated_time,
                        m.source_run_id,
                        m.model_type,
                        m.status,
                        _guarded(m.pos, m.status),
                        m.lifecycle_stage,
                        _guarded(m.pos, m.lifecycle_stage),
                    )
                ],
            )
        case ch.SetModelTags():
            model_tags: list[tuple[Any, ...]] = [
                (change.model_id, k, v, change.pos)
                for k, v in sorted(change.tags, key=lambda kv: kv[0])
            ]
            yield Step(sql.model_tag, model_tags)
        case ch.AddModelParams():
            model_params: list[tuple[Any, ...]] = [
                (change.model_id, p.key, p.value)
                for p in sorted(change.params, key=lambda p: p.key)
            ]
            yield Step(sql.model_param, model_params)
        case ch.AddRunOutputs():
            outputs: list[tuple[Any, ...]] = sorted(
                {(change.run_id, o.model_id, o.step) for o in change.outputs}
            )
            yield Step(sql.run_output, outputs)
        case ch.PurgeRun():
            # Tombstones win: whatever order events arrive in, a purged run has no rows.
            for statement in sql.purge_run:
                yield Step(statement, [(change.run_id,)])
            yield Step(sql.purged_run, [(change.run_id, change.time, change.pos)])
        case ch.PurgeExperiment():
            for statement in sql.purge_experiment:
                yield Step(statement, [(change.experiment_id,)])
            yield Step(sql.purged_experiment, [(change.experiment_id, change.time, change.pos)])
        case ch.AddMetrics():
            raise TypeError("metrics changes go through metric_rows.metric_series()")
        case _ if isinstance(change, AUTH_CHANGES):
            for auth_step in auth_plan(sql.auth, change):
                yield Step(auth_step.sql, auth_step.rows)
        case _:
            for step in registry_plan(sql.registry, change):
                yield Step(step.sql, step.rows)
