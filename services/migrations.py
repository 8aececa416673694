"""Numbered schema migrations for both backends, and the runner that applies them.

A store records the migrations it has applied in ``schema_migrations`` (version, summary,
time). Opening a store applies every missing one in order, each in its own transaction,
under a lock (SQLite: the write lock of ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock
per store, so server processes starting together do not race). A store that has applied a
migration this code does not know was written by a newer trackledger and is refused.

Two ways a migration goes:

- **in place**: SQL against the log's own tables (events, idempotency, counters, meta) or
  new projection tables that start empty because no event before them could fill them;
- **new schema + rebuild**: a projection table changed shape. The migration drops it, the
  runner creates the current projection tables, and the store's projections are rebuilt from
  the log before it serves (``rebuild=True``). The log is the source of truth, so nothing
  is lost, and the rebuild is the same one ``trackledger rebuild`` runs.

Projection tables are always created from ``projection_ddl`` after the migrations (``CREATE
TABLE IF NOT EXISTS``), so a migration never repeats their DDL. Applied migrations never
change; a new schema appends one.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Literal

import asyncpg
import msgspec

from trackledger.eventlog.postgres_schema import LOG_V1, LOG_V2, MIGRATION_LOCK
from trackledger.eventlog.sqlite_schema import LOG_DDL
from trackledger.projections import postgres_rebuild, sqlite_rebuild
from trackledger.projections.schema import PROBED_COLUMNS, PROBED_TEXT, VALUE_PREFIX_COLUMN

__all__ = [
    "MIGRATIONS",
    "Migration",
    "NewerStore",
    "pending_postgres",
    "pending_sqlite",
    "store_lock",
    "upgrade_postgres",
    "upgrade_sqlite",
]


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    summary: str
    sqlite: tuple[str, ...] = ()
    postgres: tuple[str, ...] = ()
    #: The projections must be rebuilt from the log once this is applied.
    rebuild: bool = False
    #: PostgreSQL tables to VACUUM (ANALYZE) once this is applied (outside its transaction):
    #: a rewritten table has an empty visibility map, and autovacuum, which counts changed
    #: rows, would not fill it soon, so index-only scans would read the heap meanwhile.
    vacuum: tuple[str, ...] = ()

    def statements(self, dialect: Literal["sqlite", "postgres"]) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


#: Every schema version, in order: migration n is MIGRATIONS[n - 1]. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        summary="the event log, idempotency keys, id counters and the read model",
        sqlite=tuple(LOG_DDL),
        postgres=tuple(LOG_V1),
    ),
    Migration(
        version=2,
        summary="PostgreSQL appends take the store's append lock, so the event feed waits "
        "only for this store's writers",
        postgres=tuple(LOG_V2),
    ),
    Migration(
        version=3,
        summary="the model registry's tables (new projection tables, empty until registry "
        "events arrive)",
    ),
    Migration(
        version=4,
        summary="traces: their spans, tags, metadata, assessments and run links (new "
        "projection tables, empty until trace events arrive)",
    ),
    Migration(
        version=5,
        summary="users, tokens, roles and permission grants (new projection tables, empty "
        "until auth events arrive)",
    ),
    Migration(
        version=6,
        summary="run search: indexes on the metrics' MIN() and MAX(), and on PostgreSQL on "
        "the first characters of param and tag values (built from the projection tables' "
        "current rows when the store opens)",
    ),
    Migration(
        version=7,
        summary="charts: metric histories summed up in blocks of 64 steps; logged models' "
        "metrics (metrics logged with a model_id); new projection tables, filled by "
        "rebuilding the projections from the log",
        rebuild=True,
    ),
    Migration(
        version=8,
        summary="run search: indexes of each experiment's runs by name, user, status, end "
        "time and run id, for orders by them (built from the runs table's current rows when "
        "the store opens)",
    ),
    Migration(
        version=9,
        summary="run search: an index of the tag values that are numbers, for numeric "
        "comparisons of tags (built from the run_tags table's current rows when the store "
        "opens)",
    ),
    Migration(
        version=10,
        summary="run search on PostgreSQL: the first characters of param and tag values as a "
        "stored column, indexed in place of the expression index, so counting a range of "
        "values reads the index alone (the tables are rewritten once)",
        postgres=(
            *(
                f"ALTER TABLE IF EXISTS {table} ADD COLUMN IF NOT EXISTS {VALUE_PREFIX_COLUMN}"
                for table in ("params", "run_tags")
            ),
            # The expression indexes it replaces, whichever generation built them.
            """DO $$ DECLARE name text; BEGIN
                FOR name IN SELECT indexname FROM pg_indexes
                    WHERE schemaname = current_schema()
                    AND indexname ~ '^(params|run_tags)_key_prefix_g[0-9]+$'
                LOOP EXECUTE format('DROP INDEX %I', name); END LOOP;
            END $$""",
        ),
        vacuum=("params", "run_tags"),
    ),
    Migration(
        version=11,
        summary="run search on PostgreSQL: the (key, run) indexes of params, tags and the "
        "latest metrics carry the columns a search's comparisons read, so probing a run's "
        "keys reads no table row (built from the tables' current rows when the store opens)",
        postgres=(
            # The (key, run) indexes without those columns, whichever generation built them.
            """DO $$ DECLARE name text; BEGIN
                FOR name IN SELECT indexname FROM pg_indexes
                    WHERE schemaname = current_schema()
                    AND indexname ~ '^(params|run_tags)_key_value_g[0-9]+$'
                LOOP EXECUTE format('DROP INDEX %I', name); END LOOP;
            END $$""",
        ),
    ),
    Migration(
        version=12,
        summary="run search on PostgreSQL: run ids, lifecycle stages and the keys of params, "
        'tags and latest metrics compare bytewise (collation "C"), so an index probe '
        "does not call strcoll (the tables' indexes on them are rebuilt once)",
        postgres=tuple(
            f"ALTER TABLE IF EXISTS {table} "
            + ", ".join(f"ALTER COLUMN {c} TYPE {PROBED_TEXT['postgres']}" for c in columns)
            for table, columns in PROBED_COLUMNS.items()
        ),
        vacuum=tuple(PROBED_COLUMNS),
    ),
)

LATEST = len(MIGRATIONS)

_CREATE_SQLITE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "summary TEXT NOT NULL, applied_at INTEGER NOT NULL)"
)
_CREATE_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


class NewerStore(Exception):
    """The store was written by a newer trackledger than this one."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"this store was written by a newer trackledger (schema version {version}; this "
            f"trackledger knows up to {LATEST}): upgrade trackledger to open it"
        )


def _check(applied: set[int]) -> list[Migration]:
    if applied and max(applied) > LATEST:
        raise NewerStore(max(applied))
    return [m for m in MIGRATIONS if m.version not in applied]


# -- SQLite --------------------------------------------------------------------------------


def _sqlite_applied(conn: sqlite3.Connection) -> set[int]:
    conn.execute(_CREATE_SQLITE)
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    if applied:
        return applied
    # Stores from before numbered migrations kept one version number in ``meta``.
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if has_meta is None:
        return applied
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return applied
    legacy = int(row[0])
    for version in range(1, legacy + 1):
        summary = MIGRATIONS[version - 1].summary if version <= LATEST else "(newer)"
        _record_sqlite(conn, version, summary)
    return set(range(1, legacy + 1))


def pending_sqlite(conn: sqlite3.Connection) -> list[Migration]:
    """The migrations the store lacks (it must not be written by a newer trackledger)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        pending = _check(_sqlite_applied(conn))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return pending


def upgrade_sqlite(conn: sqlite3.Connection) -> list[Migration]:
    """Apply what the store lacks, each migration in its own transaction, then create the
    current projection tables; return the migrations applied."""
    done: list[Migration] = []
    for migration in pending_sqlite(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it since the list was read.
            if migration.version not in _sqlite_applied(conn):
                for statement in migration.sqlite:
                    conn.execute(statement)
                _record_sqlite(conn, migration.version, migration.summary)
                # Releases before numbered migrations read this and refuse newer stores.
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(migration.version),),
                )
                if migration.rebuild:
                    _mark_rebuild_sqlite(conn)
                done.append(migration)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    conn.execute("BEGIN IMMEDIATE")
    try:
        sqlite_rebuild.create_schema(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done


def _record_sqlite(conn: sqlite3.Connection, version: int, summary: str) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (version, summary, applied_at) VALUES (?, ?, ?)",
        (version, summary, int(time.time() * 1000)),
    )


#: A migration's rebuild is marked only where there is something to replay: a new store's
#: projections are born in the current shape.
_MARK_REBUILD = (
    "INSERT INTO meta (key, value) SELECT 'rebuild_pending', '1' "
    "WHERE EXISTS (SELECT 1 FROM events) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def _mark_rebuild_sqlite(conn: sqlite3.Connection) -> None:
    conn.execute(_MARK_REBUILD)


# -- PostgreSQL ----------------------------------------------------------------------------


async def _postgres_applied(conn: asyncpg.Connection) -> set[int]:
    await conn.execute(_CREATE_POSTGRES)
    return {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending_postgres(conn: asyncpg.Connection) -> list[Migration]:
    """The migrations the store lacks (it must not be written by a newer trackledger)."""
    has_table = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not has_table:
        return list(MIGRATIONS)
    applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    return _check(applied)


async def upgrade_postgres(conn: asyncpg.Connection) -> list[Migration]:
    """Apply what the store lacks, each migration in its own transaction, under a lock held
    for the whole upgrade (per store: the database and schema in use), then create the
    current projection tables; return the migrations applied."""
    async with store_lock(conn):
        async with conn.transaction():
            pending = _check(await _postgres_applied(conn))
        done: list[Migration] = []
        for migration in pending:
            async with conn.transaction():
                for statement in migration.postgres:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)", migration.version
                )
                if migration.rebuild:
                    await conn.execute(_MARK_REBUILD)
            done.append(migration)
        async with conn.transaction():
            await postgres_rebuild.create_schema(conn)
        for table in dict.fromkeys(t for migration in done for t in migration.vacuum):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        return done


@contextlib.asynccontextmanager
async def store_lock(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Hold the store's schema lock (per store: the database and schema in use) on ``conn``:
    one process at a time upgrades the store, or rebuilds it after an upgrade."""
    store = await conn.fetchval("SELECT hashtext(current_database() || '.' || current_schema())")
    await conn.execute("SELECT pg_advisory_lock($1, $2)", _lock_class(), store)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, $2)", _lock_class(), store)


def _lock_class() -> int:
    """The advisory lock's first key: MIGRATION_LOCK folded into PostgreSQL's int4."""
    return MIGRATION_LOCK % (2**31)
