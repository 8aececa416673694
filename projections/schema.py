"""The read model's tables, for SQLite and PostgreSQL.

Every table here can be dropped and rebuilt from the log. ``*_pos`` columns hold the log
position that wrote the field, so merges are order-independent (see ``changes.py``).
Tags whose ``value`` is NULL are tombstones of deleted tags. ``num_value`` holds a param's or
tag's value parsed as a number when it is exactly one, for numeric filters.
"""

from __future__ import annotations

from trackledger.projections.auth_schema import AUTH_TABLES, auth_ddl
from trackledger.projections.registry_schema import REGISTRY_TABLES, registry_ddl
from trackledger.projections.search.drivers import RUN_ORDER_COLUMNS
from trackledger.projections.search.text_sets import PG_VALUE_PREFIX
from trackledger.projections.trace_schema import TRACE_TABLES, trace_ddl

__all__ = [
    "PROBED_COLUMNS",
    "PROBED_TEXT",
    "PROJECTION_TABLES",
    "VALUE_PREFIX_COLUMN",
    "projection_ddl",
]

PROJECTION_TABLES = (
    "purged_runs",
    "purged_experiments",
    "experiments",
    "experiment_tags",
    "runs",
    "run_tags",
    "params",
    "latest_metrics",
    "metric_history",
    "metric_blocks",
    "run_datasets",
    "run_model_inputs",
    "run_outputs",
    "logged_models",
    "logged_model_tags",
    "logged_model_params",
    "logged_model_metrics",
    *AUTH_TABLES,
    *TRACE_TABLES,
    *REGISTRY_TABLES,
)


_TYPES = {
    "sqlite": {"int": "INTEGER", "real": "REAL", "blob": "BLOB", "rowid": " WITHOUT ROWID"},
    "postgres": {"int": "BIGINT", "real": "DOUBLE PRECISION", "blob": "BYTEA", "rowid": ""},
}

#: The text columns a run search probes by index, run after run: run ids, lifecycle stages
#: and keys. PostgreSQL compares them bytewise (collation "C", as SQLite compares all
#: text): under any other collation, even C.UTF-8, each comparison in an index descent
#: goes through the C library's strcoll (a probe 2.05 -> 1.72 us; the query mix's searches
#: on PostgreSQL about 10% faster in all). Equality is the same under both; only orders
#: change, to SQLite's. (Migration 12 changes them in stores made before.)
PROBED_TEXT = {"sqlite": "TEXT", "postgres": 'TEXT COLLATE "C"'}

#: The tables and columns of ``PROBED_TEXT``.
PROBED_COLUMNS = {
    "runs": ("run_id", "lifecycle_stage"),
    "run_tags": ("run_id", "key"),
    "params": ("run_id", "key"),
    "latest_metrics": ("run_id", "key"),
}


def projection_ddl(dialect: str, suffix: str = "", generation: int = 0) -> list[str]:
    """DDL for every projection table.

    ``suffix`` names shadow tables during a rebuild. Index names carry the ``generation`` of
    the tables they were built for (SQLite has no ALTER INDEX ... RENAME), so a rebuild's
    shadow indexes never collide with the live ones they replace.
    """
    s = suffix
    g = f"_g{generation}"
    t = _TYPES[dialect]
    i, r, b, w = t["int"], t["real"], t["blob"], t["rowid"]
    # PostgreSQL's btree entries are limited to about 2.7 kB and param and tag values reach
    # 8000 characters, so there the text indexes lead with (key, run) instead of the value.
    kv = "key, value" if dialect == "sqlite" else "key, run_id"
    return [
        *_tracking_ddl(s, g, i, r, b, w, kv, PROBED_TEXT[dialect]),
        *_run_order_indexes(dialect, s, g),
        *registry_ddl(dialect, suffix, generation),
        *auth_ddl(dialect, suffix, generation),
        *trace_ddl(dialect, s, g, t),
    ]


def _value_prefix_index(table: str, s: str, g: str, kv: str) -> list[str]:
    """PostgreSQL: the values' first characters, bytewise, after the key (the whole value
    does not fit a btree entry): equality, IN and prefix LIKE read a range of it, and an
    order by the value walks it. SQLite's (key, value) index already does all that.

    The characters are a stored column (``VALUE_PREFIX_COLUMN``), not an expression: a
    query that reads an expression index needs the column the expression reads, so
    PostgreSQL fetched every row's heap page to count a range (15-60 ms for 10,000
    runs); of a column's index it counts the entries alone."""
    if kv.endswith("value"):
        return []
    return [
        f"CREATE INDEX IF NOT EXISTS {table}_key_head{g} ON {table}{s} "
        f'(key, value_prefix COLLATE "C")'
    ]


#: PostgreSQL: the column of params and run_tags that holds a value's first characters
#: (NULL for a deleted tag), last in the table, so that a store that gained it from
#: migration 10 has the columns of a new one in the same order.
VALUE_PREFIX_COLUMN = (
    f"value_prefix TEXT GENERATED ALWAYS AS (left(value, {PG_VALUE_PREFIX})) STORED"
)


def _run_order_indexes(dialect: str, s: str, g: str) -> list[str]:
    """An order by one of ``RUN_ORDER_COLUMNS`` reads its first runs from an index of the
    scope in that column's order (then start time newest first, MLflow's next tie order),
    instead of sorting every run. Text compares bytewise on both backends, as the
    search sorts it (``SqlBuilder.text_order``)."""
    collate = ' COLLATE "C"' if dialect == "postgres" else ""
    out = []
    for column, name in RUN_ORDER_COLUMNS:
        text = collate if column != "end_time" else ""
        # Not run_id after start_time: with such an index, or with (scope, run_id) alone,
        # SQLite (no statistics) joined runs by scanning a covering index of the scope for
        # every joined row instead of looking up the run id.
        out.append(
            f"CREATE INDEX IF NOT EXISTS runs_order_{name}{g} ON runs{s} "
            f"(experiment_id, lifecycle_stage, {column}{text}, start_time DESC)"
        )
    return out


def _tracking_ddl(s: str, g: str, i: str, r: str, b: str, w: str, kv: str, k: str) -> list[str]:
    """``k``: the type of the columns a search probes (``PROBED_TEXT``)."""
    postgres = not kv.endswith("value")
    prefix = f"\n            {VALUE_PREFIX_COLUMN}," if postgres else ""
    # PostgreSQL: a search probes each run's keys by (key, run); the index entries carry
    # what its comparisons read (``run_fields.comparison_sql``), so a probe reads no
    # table row. SQLite's tables are their primary keys' indexes already.
    text_probe = " INCLUDE (value_prefix, num_value)" if postgres else ""
    return [
        f"""CREATE TABLE IF NOT EXISTS experiments{s} (
            experiment_id {i} PRIMARY KEY,
            name TEXT,
            name_pos {i} NOT NULL DEFAULT 0,
            artifact_location TEXT,
            creation_time {i},
            last_update_time {i},
            lifecycle_stage TEXT,
            deleted_time {i},
            lifecycle_pos {i} NOT NULL DEFAULT 0
        )""",
        # get-by-name and the uniqueness check read by name.
        f"CREATE INDEX IF NOT EXISTS experiments_name{g} ON experiments{s} (name)",
        f"""CREATE TABLE IF NOT EXISTS experiment_tags{s} (
            experiment_id {i} NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            pos {i} NOT NULL,
            PRIMARY KEY (experiment_id, key)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS runs{s} (
            run_id {k} PRIMARY KEY,
            experiment_id {i},
            user_id TEXT,
            start_time {i},
            artifact_uri TEXT,
            name TEXT,
            name_pos {i} NOT NULL DEFAULT 0,
            status TEXT,
            status_pos {i} NOT NULL DEFAULT 0,
            end_time {i},
            end_time_pos {i} NOT NULL DEFAULT 0,
            lifecycle_stage {k},
            deleted_time {i},
            deleted_cause TEXT,
            lifecycle_pos {i} NOT NULL DEFAULT 0
        )""",
        # Purge finds deleted runs by age; bulk restore by deletion time.
        f"""CREATE INDEX IF NOT EXISTS runs_deleted{g}
            ON runs{s} (lifecycle_stage, deleted_time)""",
        f"""CREATE TABLE IF NOT EXISTS purged_runs{s} (
            run_id TEXT PRIMARY KEY,
            purged_time {i} NOT NULL,
            pos {i} NOT NULL
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS purged_experiments{s} (
            experiment_id {i} PRIMARY KEY,
            purged_time {i} NOT NULL,
            pos {i} NOT NULL
        ){w}""",
        # Search scopes by experiment and lifecycle, then pages in MLflow's default order
        # (start_time DESC, run_id ASC): this index serves that page without a sort.
        f"""CREATE INDEX IF NOT EXISTS runs_experiment{g}
            ON runs{s} (experiment_id, lifecycle_stage, start_time DESC, run_id)""",
        f"""CREATE TABLE IF NOT EXISTS run_tags{s} (
            run_id {k} NOT NULL,
            key {k} NOT NULL,
            value TEXT,
            num_value {r},
            pos {i} NOT NULL,{prefix}
            PRIMARY KEY (run_id, key)
        ){w}""",
        # Tag filters (tags.k = 'v', parent/root lookups) start from key and value.
        f"CREATE INDEX IF NOT EXISTS run_tags_key_value{g} ON run_tags{s} ({kv}){text_probe}",
        *_value_prefix_index("run_tags", s, g, kv),
        # `tags.priority > 3` compares the values that are numbers, as for params; few tags
        # are, so only those are indexed.
        f"CREATE INDEX IF NOT EXISTS run_tags_key_num{g} ON run_tags{s} (key, num_value) "
        "WHERE num_value IS NOT NULL",
        f"""CREATE TABLE IF NOT EXISTS params{s} (
            run_id {k} NOT NULL,
            key {k} NOT NULL,
            value TEXT NOT NULL,
            num_value {r},{prefix}
            PRIMARY KEY (run_id, key)
        ){w}""",
        f"CREATE INDEX IF NOT EXISTS params_key_value{g} ON params{s} ({kv}){text_probe}",
        *_value_prefix_index("params", s, g, kv),
        # `params.lr < 0.01` compares the value parsed as a number when it is one.
        f"CREATE INDEX IF NOT EXISTS params_key_num{g} ON params{s} (key, num_value)",
        f"""CREATE TABLE IF NOT EXISTS latest_metrics{s} (
            run_id {k} NOT NULL,
            key {k} NOT NULL,
            value {r} NOT NULL,
            timestamp {i} NOT NULL,
            step {i} NOT NULL,
            is_nan {i} NOT NULL,
            min_value {r},
            max_value {r},
            count {i} NOT NULL,
            PRIMARY KEY (run_id, key)
        ){w}""",
        # Metric filters and orderings read one key's values across many runs.
        f"CREATE INDEX IF NOT EXISTS latest_metrics_key_value{g} ON latest_metrics{s} (key, value)",
        *(
            [
                f"CREATE INDEX IF NOT EXISTS latest_metrics_probe{g} ON latest_metrics{s} "
                "(key, run_id) INCLUDE (value, is_nan, min_value, max_value)"
            ]
            if postgres
            else []
        ),
        # MIN() and MAX() filters and orders read them the same way.
        f"CREATE INDEX IF NOT EXISTS latest_metrics_key_min{g} "
        f"ON latest_metrics{s} (key, min_value)",
        f"CREATE INDEX IF NOT EXISTS latest_metrics_key_max{g} "
        f"ON latest_metrics{s} (key, max_value)",
        # The history is its own index: one series is a contiguous range, step-ordered.
        # The whole point is the key, so an exact duplicate point collapses (as in MLflow).
        f"""CREATE TABLE IF NOT EXISTS metric_history{s} (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            step {i} NOT NULL,
            timestamp {i} NOT NULL,
            value {r} NOT NULL,
            is_nan {i} NOT NULL,
            PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
        ){w}""",
        # Charts of long histories: each block of 64 steps summed up (metric_rows.metric_blocks).
        f"""CREATE TABLE IF NOT EXISTS metric_blocks{s} (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            block {i} NOT NULL,
            min_step {i} NOT NULL,
            max_step {i} NOT NULL,
            min_ts {i} NOT NULL,
            max_ts {i} NOT NULL,
            min_value {r},
            max_value {r},
            count {i} NOT NULL,
            nan_count {i} NOT NULL,
            PRIMARY KEY (run_id, key, block)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS run_datasets{s} (
            run_id TEXT NOT NULL,
            name TEXT NOT NULL,
            digest TEXT NOT NULL,
            source_type TEXT NOT NULL,
            source TEXT NOT NULL,
            schema TEXT,
            profile TEXT,
            context TEXT,
            tags {b} NOT NULL,
            PRIMARY KEY (run_id, name, digest)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS run_model_inputs{s} (
            run_id TEXT NOT NULL,
            model_id TEXT NOT NULL,
            PRIMARY KEY (run_id, model_id)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS run_outputs{s} (
            run_id TEXT NOT NULL,
            model_id TEXT NOT NULL,
            step {i} NOT NULL,
            PRIMARY KEY (run_id, model_id, step)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS logged_models{s} (
            model_id TEXT PRIMARY KEY,
            experiment_id {i},
            name TEXT,
            artifact_location TEXT,
            creation_time {i},
            last_updated_time {i},
            source_run_id TEXT,
            model_type TEXT,
            status TEXT,
            status_pos {i} NOT NULL DEFAULT 0,
            lifecycle_stage TEXT,
            lifecycle_pos {i} NOT NULL DEFAULT 0
        )""",
        # runs:/ URIs find a run's model by name within its experiment.
        f"""CREATE INDEX IF NOT EXISTS logged_models_name{g}
            ON logged_models{s} (experiment_id, name)""",
        f"""CREATE TABLE IF NOT EXISTS logged_model_tags{s} (
            model_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            pos {i} NOT NULL,
            PRIMARY KEY (model_id, key)
        ){w}""",
        # Metrics logged with a model_id (MLflow 3's logged-model metrics); one per point.
        f"""CREATE TABLE IF NOT EXISTS logged_model_metrics{s} (
            model_id TEXT NOT NULL,
            key TEXT NOT NULL,
            timestamp {i} NOT NULL,
            step {i} NOT NULL,
            run_id TEXT NOT NULL,
            value {r} NOT NULL,
            is_nan {i} NOT NULL,
            dataset_name TEXT,
            dataset_digest TEXT,
            PRIMARY KEY (model_id, key, timestamp, step, run_id)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS logged_model_params{s} (
            model_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)
        ){w}""",
    ]
