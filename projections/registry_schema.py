"""The model registry's read-model tables, for SQLite and PostgreSQL.

Rows are keyed by the registered model's internal id (its stream), never by its name, so a
rename changes one row. ``*_pos`` columns hold the log position that wrote the field (last
writer wins, in any order of application); times merge by their maximum; tag and alias rows
whose value is NULL are tombstones. A deleted model keeps its rows, marked by
``deleted_time``: every read goes through ``registered_models`` and skips it.

Rows written only by a change that arrives before the creation (when events are applied out
of order) have ``creation_time`` NULL until the creation arrives; reads skip them.
"""

from __future__ import annotations

__all__ = ["REGISTRY_TABLES", "registry_ddl"]

REGISTRY_TABLES = (
    "registered_models",
    "registered_model_tags",
    "registered_model_aliases",
    "model_versions",
    "model_version_tags",
)


def registry_ddl(dialect: str, suffix: str = "", generation: int = 0) -> list[str]:
    """DDL for the registry's tables (``suffix`` and ``generation`` as in ``projection_ddl``)."""
    s = suffix
    g = f"_g{generation}"
    i = "INTEGER" if dialect == "sqlite" else "BIGINT"
    w = " WITHOUT ROWID" if dialect == "sqlite" else ""
    # PostgreSQL's btree entries are limited to about 2.7 kB and tag values reach 100,000
    # characters, so there tag indexes lead with the key and the owner instead of the value.
    tag_index = "key, value" if dialect == "sqlite" else "key, registered_model_id"
    return [
        f"""CREATE TABLE IF NOT EXISTS registered_models{s} (
            registered_model_id TEXT PRIMARY KEY,
            name TEXT,
            name_pos {i} NOT NULL DEFAULT 0,
            creation_time {i},
            last_updated_time {i},
            description TEXT,
            description_pos {i} NOT NULL DEFAULT 0,
            renamed_time {i},
            max_version {i} NOT NULL DEFAULT 0,
            deleted_time {i}
        )""",
        # Get-by-name and the uniqueness check; on SQLite also search in name order.
        f"CREATE INDEX IF NOT EXISTS registered_models_name{g} ON registered_models{s} (name)",
        # PostgreSQL orders names bytewise (COLLATE "C", as SQLite does), which an index in
        # the database's collation cannot give.
        *(
            [
                f"""CREATE INDEX IF NOT EXISTS registered_models_name_c{g}
                ON registered_models{s} (name COLLATE "C")"""
            ]
            if dialect == "postgres"
            else []
        ),
        f"""CREATE INDEX IF NOT EXISTS registered_models_updated{g}
            ON registered_models{s} (last_updated_time, name)""",
        f"""CREATE TABLE IF NOT EXISTS registered_model_tags{s} (
            registered_model_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            pos {i} NOT NULL,
            PRIMARY KEY (registered_model_id, key)
        ){w}""",
        f"""CREATE INDEX IF NOT EXISTS registered_model_tags_key{g}
            ON registered_model_tags{s} ({tag_index})""",
        f"""CREATE TABLE IF NOT EXISTS registered_model_aliases{s} (
            registered_model_id TEXT NOT NULL,
            alias TEXT NOT NULL,
            version {i},
            pos {i} NOT NULL,
            PRIMARY KEY (registered_model_id, alias)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS model_versions{s} (
            registered_model_id TEXT NOT NULL,
            version {i} NOT NULL,
            creation_time {i},
            last_updated_time {i},
            user_id TEXT,
            current_stage TEXT,
            stage_pos {i} NOT NULL DEFAULT 0,
            description TEXT,
            description_pos {i} NOT NULL DEFAULT 0,
            source TEXT,
            storage_location TEXT,
            run_id TEXT,
            run_link TEXT,
            model_id TEXT,
            status TEXT,
            PRIMARY KEY (registered_model_id, version)
        ){w}""",
        # Search pages in MLflow's default order (last updated first) walk this index.
        f"""CREATE INDEX IF NOT EXISTS model_versions_updated{g}
            ON model_versions{s} (last_updated_time, registered_model_id, version)""",
        # One model's versions newest first; latest version per stage.
        f"""CREATE INDEX IF NOT EXISTS model_versions_model_updated{g}
            ON model_versions{s} (registered_model_id, last_updated_time)""",
        f"""CREATE INDEX IF NOT EXISTS model_versions_stage{g}
            ON model_versions{s} (registered_model_id, current_stage, version)""",
        f"CREATE INDEX IF NOT EXISTS model_versions_run{g} ON model_versions{s} (run_id)",
        # Pages in version number or creation order.
        f"""CREATE INDEX IF NOT EXISTS model_versions_number{g}
            ON model_versions{s} (version, registered_model_id)""",
        f"""CREATE INDEX IF NOT EXISTS model_versions_created{g}
            ON model_versions{s} (creation_time, registered_model_id, version)""",
        f"""CREATE TABLE IF NOT EXISTS model_version_tags{s} (
            registered_model_id TEXT NOT NULL,
            version {i} NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            pos {i} NOT NULL,
            PRIMARY KEY (registered_model_id, version, key)
        ){w}""",
        f"""CREATE INDEX IF NOT EXISTS model_version_tags_key{g}
            ON model_version_tags{s} ({tag_index})""",
    ]
