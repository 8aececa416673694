"""The trace tables of the read model, for SQLite and PostgreSQL (included by
``schema.projection_ddl``; see ``trace_changes.py`` for how they merge).

``traces`` keeps what each source said, each field with the log position that wrote it,
and derives what searches read in generated columns: the start (``timestamp_ms``), the
duration, the state, the experiment and the stage. Searches page an experiment's traces
newest first straight from an index, with or without a state filter.
"""

from __future__ import annotations

__all__ = ["TRACE_TABLES", "trace_ddl"]

TRACE_TABLES = (
    "traces",
    "trace_tags",
    "trace_metadata",
    "trace_spans",
    "trace_assessments",
    "trace_run_links",
    "trace_prompt_links",
    "purged_traces",
)

#: Info fields a client reports, each last-writer-wins by its own position column.
INFO_FIELDS = (
    ("info_experiment_id", "int"),
    ("request_time", "int"),
    ("duration", "int"),
    ("info_state", "text"),
    ("client_request_id", "text"),
    ("request_preview", "text"),
    ("response_preview", "text"),
)

_STATE = (
    "CASE WHEN info_state IN ('OK', 'ERROR') THEN info_state "
    "ELSE COALESCE(root_status, info_state, 'IN_PROGRESS') END"
)


def trace_ddl(dialect: str, s: str, g: str, types: dict[str, str]) -> list[str]:
    """DDL of the trace tables: ``s`` is the table suffix, ``g`` the index generation."""
    i, r, w = types["int"], types["real"], types["rowid"]
    info = ",\n            ".join(
        f"{name} {i if kind == 'int' else 'TEXT'}, {name}_pos {i} NOT NULL DEFAULT 0"
        for name, kind in INFO_FIELDS
    )
    # PostgreSQL's btree entries are limited to about 2.7 kB and values reach 8000
    # characters, so there the key/value indexes lead with (key, trace) instead.
    kv = "key, value" if dialect == "sqlite" else "key, trace_id"
    return [
        f"""CREATE TABLE IF NOT EXISTS traces{s} (
            trace_id TEXT PRIMARY KEY,
            {info},
            span_experiment_id {i},
            span_experiment_pos {i} NOT NULL DEFAULT 0,
            span_start_ms {i},
            span_end_ms {i},
            root_span_id TEXT,
            root_name TEXT,
            root_status TEXT,
            root_request TEXT,
            root_response TEXT,
            root_pos {i} NOT NULL DEFAULT 0,
            lifecycle TEXT,
            deleted_time {i},
            lifecycle_pos {i} NOT NULL DEFAULT 0,
            experiment_id {i} GENERATED ALWAYS AS
                (COALESCE(info_experiment_id, span_experiment_id)) STORED,
            timestamp_ms {i} GENERATED ALWAYS AS (COALESCE(request_time, span_start_ms)) STORED,
            execution_time_ms {i} GENERATED ALWAYS AS
                (COALESCE(duration, span_end_ms - COALESCE(request_time, span_start_ms))) STORED,
            state TEXT GENERATED ALWAYS AS ({_STATE}) STORED,
            stage TEXT GENERATED ALWAYS AS (COALESCE(lifecycle, 'active')) STORED
        )""",
        # An experiment's traces newest first (MLflow's default order), all or by state.
        f"""CREATE INDEX IF NOT EXISTS traces_experiment{g}
            ON traces{s} (experiment_id, stage, timestamp_ms DESC, trace_id)""",
        f"""CREATE INDEX IF NOT EXISTS traces_state{g}
            ON traces{s} (experiment_id, stage, state, timestamp_ms DESC, trace_id)""",
        # Purge finds deleted traces by age.
        f"CREATE INDEX IF NOT EXISTS traces_deleted{g} ON traces{s} (stage, deleted_time)",
        f"""CREATE TABLE IF NOT EXISTS trace_tags{s} (
            trace_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            pos {i} NOT NULL,
            PRIMARY KEY (trace_id, key)
        ){w}""",
        f"CREATE INDEX IF NOT EXISTS trace_tags_key_value{g} ON trace_tags{s} ({kv})",
        f"""CREATE TABLE IF NOT EXISTS trace_metadata{s} (
            trace_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            pos {i} NOT NULL,
            PRIMARY KEY (trace_id, key)
        ){w}""",
        f"CREATE INDEX IF NOT EXISTS trace_metadata_key_value{g} ON trace_metadata{s} ({kv})",
        # Spans can be large (prompts, documents): a table with its own row ids, not a
        # clustered one, on SQLite. ``content`` is the span as JSON, for text search too.
        f"""CREATE TABLE IF NOT EXISTS trace_spans{s} (
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            parent_span_id TEXT,
            name TEXT NOT NULL,
            span_type TEXT,
            status TEXT NOT NULL,
            start_ns {i} NOT NULL,
            end_ns {i},
            content TEXT NOT NULL,
            pos {i} NOT NULL,
            PRIMARY KEY (trace_id, span_id)
        )""",
        # A deleted assessment keeps a tombstone (``deleted_pos``), so a replay in any
        # order leaves it deleted; its other columns may then be empty. ``value`` is the
        # value as text (a string as itself, anything else as JSON) for filters.
        f"""CREATE TABLE IF NOT EXISTS trace_assessments{s} (
            trace_id TEXT NOT NULL,
            assessment_id TEXT NOT NULL,
            name TEXT,
            kind TEXT,
            value TEXT,
            num_value {r},
            overrides TEXT,
            record TEXT,
            create_time {i},
            pos {i} NOT NULL DEFAULT 0,
            deleted_pos {i} NOT NULL DEFAULT 0,
            PRIMARY KEY (trace_id, assessment_id)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS trace_run_links{s} (
            trace_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            PRIMARY KEY (trace_id, run_id)
        ){w}""",
        f"CREATE INDEX IF NOT EXISTS trace_run_links_run{g} ON trace_run_links{s} (run_id)",
        # Prompt versions a trace used, as "name/version" (MLflow's `prompt = ...` filter).
        f"""CREATE TABLE IF NOT EXISTS trace_prompt_links{s} (
            trace_id TEXT NOT NULL,
            prompt TEXT NOT NULL,
            PRIMARY KEY (trace_id, prompt)
        ){w}""",
        f"""CREATE INDEX IF NOT EXISTS trace_prompt_links_prompt{g}
            ON trace_prompt_links{s} (prompt)""",
        f"""CREATE TABLE IF NOT EXISTS purged_traces{s} (
            trace_id TEXT PRIMARY KEY,
            purged_time {i} NOT NULL,
            pos {i} NOT NULL
        ){w}""",
    ]
