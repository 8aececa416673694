"""The read model's tables on SQLite.

Every table here can be dropped and rebuilt from the log. ``*_pos`` columns hold the log
position that wrote the field, so merges are order-independent (see ``changes.py``).
Tags whose ``value`` is NULL are tombstones of deleted tags. ``num_value`` holds a param's or
tag's value parsed as a number when it is exactly one, for numeric filters.
"""

from __future__ import annotations

__all__ = ["PROJECTION_TABLES", "projection_ddl"]

PROJECTION_TABLES = (
    "experiments",
    "experiment_tags",
    "runs",
    "run_tags",
    "params",
    "latest_metrics",
    "metric_history",
    "run_datasets",
    "run_model_inputs",
)


def projection_ddl(suffix: str = "", generation: int = 0) -> list[str]:
    """DDL for every projection table.

    ``suffix`` names shadow tables during a rebuild. Index names carry the ``generation`` of
    the tables they were built for (SQLite has no ALTER INDEX ... RENAME), so a rebuild's
    shadow indexes never collide with the live ones they replace.
    """
    s = suffix
    g = f"_g{generation}"
    return [
        f"""CREATE TABLE IF NOT EXISTS experiments{s} (
            experiment_id INTEGER PRIMARY KEY,
            name TEXT,
            name_pos INTEGER NOT NULL DEFAULT 0,
            artifact_location TEXT,
            creation_time INTEGER,
            last_update_time INTEGER,
            lifecycle_stage TEXT,
            deleted_time INTEGER,
            lifecycle_pos INTEGER NOT NULL DEFAULT 0
        )""",
        # get-by-name and the uniqueness check read by name.
        f"CREATE INDEX IF NOT EXISTS experiments_name{g} ON experiments{s} (name)",
        f"""CREATE TABLE IF NOT EXISTS experiment_tags{s} (
            experiment_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            pos INTEGER NOT NULL,
            PRIMARY KEY (experiment_id, key)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE IF NOT EXISTS runs{s} (
            run_id TEXT PRIMARY KEY,
            experiment_id INTEGER,
            user_id TEXT,
            start_time INTEGER,
            artifact_uri TEXT,
            name TEXT,
            name_pos INTEGER NOT NULL DEFAULT 0,
            status TEXT,
            status_pos INTEGER NOT NULL DEFAULT 0,
            end_time INTEGER,
            end_time_pos INTEGER NOT NULL DEFAULT 0,
            lifecycle_stage TEXT,
            deleted_time INTEGER,
            lifecycle_pos INTEGER NOT NULL DEFAULT 0
        )""",
        # Search scopes by experiment and lifecycle, then pages in MLflow's default order
        # (start_time DESC, run_id ASC): this index serves that page without a sort.
        f"""CREATE INDEX IF NOT EXISTS runs_experiment{g}
            ON runs{s} (experiment_id, lifecycle_stage, start_time DESC, run_id)""",
        f"""CREATE TABLE IF NOT EXISTS run_tags{s} (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            num_value REAL,
            pos INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        # Tag filters (tags.k = 'v', parent/root lookups) start from key and value.
        f"CREATE INDEX IF NOT EXISTS run_tags_key_value{g} ON run_tags{s} (key, value)",
        f"""CREATE TABLE IF NOT EXISTS params{s} (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            num_value REAL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        f"CREATE INDEX IF NOT EXISTS params_key_value{g} ON params{s} (key, value)",
        # `params.lr < 0.01` compares the value parsed as a number when it is one.
        f"CREATE INDEX IF NOT EXISTS params_key_num{g} ON params{s} (key, num_value)",
        f"""CREATE TABLE IF NOT EXISTS latest_metrics{s} (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value REAL NOT NULL,
            timestamp INTEGER NOT NULL,
            step INTEGER NOT NULL,
            is_nan INTEGER NOT NULL,
            min_value REAL,
            max_value REAL,
            count INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        # Metric filters and orderings read one key's values across many runs.
        f"CREATE INDEX IF NOT EXISTS latest_metrics_key_value{g} ON latest_metrics{s} (key, value)",
        # The history is its own index: one series is a contiguous range, step-ordered.
        # The whole point is the key, so an exact duplicate point collapses (as in MLflow).
        f"""CREATE TABLE IF NOT EXISTS metric_history{s} (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            step INTEGER NOT NULL,
            timestamp INTEGER NOT NULL,
            value REAL NOT NULL,
            is_nan INTEGER NOT NULL,
            PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE IF NOT EXISTS run_datasets{s} (
            run_id TEXT NOT NULL,
            name TEXT NOT NULL,
            digest TEXT NOT NULL,
            source_type TEXT NOT NULL,
            source TEXT NOT NULL,
            schema TEXT,
            profile TEXT,
            context TEXT,
            tags BLOB NOT NULL,
            PRIMARY KEY (run_id, name, digest)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE IF NOT EXISTS run_model_inputs{s} (
            run_id TEXT NOT NULL,
            model_id TEXT NOT NULL,
            PRIMARY KEY (run_id, model_id)
        ) WITHOUT ROWID""",
    ]
