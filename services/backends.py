"""Open a backend from its URI: the event store and the read model over one database."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import asyncpg

from trackledger.eventlog.commands import EnsureDefaultExperiment
from trackledger.eventlog.context import ContextSource
from trackledger.eventlog.postgres_sql import PgFetchAll
from trackledger.eventlog.postgres_store import PostgresEventStore
from trackledger.eventlog.sqlite_readers import ReaderPool
from trackledger.eventlog.sqlite_store import SQLiteEventStore
from trackledger.eventlog.sqlite_writer import GroupCommitWriter
from trackledger.eventlog.store import EventStore, system_clock
from trackledger.projections import postgres_rebuild, sqlite_rebuild
from trackledger.projections.auth_reads import AuthReads
from trackledger.projections.browse import Browse
from trackledger.projections.postgres_apply import PostgresProjector
from trackledger.projections.registry_reads import RegistryReads
from trackledger.projections.sql_lookups import (
    answer_postgres,
    answer_postgres_many,
    answer_sqlite,
    answer_sqlite_many,
)
from trackledger.projections.sql_reads import SqlReadModel
from trackledger.projections.sqlite_apply import SQLiteProjector
from trackledger.projections.sqlite_rebuild import CHUNK, Progress
from trackledger.projections.trace_reads import TraceReads
from trackledger.projections.views import ReadModel
from trackledger.services.migrations import (
    Migration,
    store_lock,
    upgrade_postgres,
    upgrade_sqlite,
)
from trackledger.services.uris import sqlite_path

__all__ = [
    "Backend",
    "PostgresBackend",
    "SQLiteBackend",
    "UnsupportedBackend",
    "open_backend",
]

#: Session settings of every connection. No parallel query: a search's ordered segments
#: are a UNION ALL that must come back arm after arm (a parallel append interleaves them),
#: and a page of 100 gains nothing from worker processes.
_POSTGRES_SETTINGS = {"max_parallel_workers_per_gather": "0"}


class UnsupportedBackend(ValueError):
    pass


class Backend(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def store(self) -> EventStore: ...

    @property
    def reads(self) -> ReadModel: ...

    @property
    def browse(self) -> Browse: ...

    @property
    def auth(self) -> AuthReads: ...

    @property
    def registry(self) -> RegistryReads: ...

    @property
    def traces(self) -> TraceReads: ...

    async def rebuild(self, progress: Progress | None = None, chunk: int = CHUNK) -> int: ...

    async def verify(
        self,
        progress: Progress | None = None,
        shuffle: random.Random | None = None,
        chunk: int = CHUNK,
    ) -> dict[str, int]: ...

    async def refresh_statistics(self) -> list[str]: ...

    async def close(self) -> None: ...

    #: The migrations this opening applied (empty when the store was current).
    upgraded: list[Migration]

    async def finish_upgrade(self, progress: Progress | None = None) -> bool: ...


# -- SQLite --------------------------------------------------------------------------------


class SQLiteBackend:
    kind = "sqlite"

    def __init__(
        self,
        writer: GroupCommitWriter,
        readers: ReaderPool,
        store: SQLiteEventStore,
        upgraded: list[Migration],
    ) -> None:
        self.writer = writer
        self.store = store
        self.reads = SqlReadModel(
            readers.fetchall, "sqlite", readers.fetch_many, commit_mark=store.last_position
        )
        self.browse = Browse(readers.fetchall)
        self.auth = AuthReads(readers.fetchall)
        self.traces = TraceReads(readers.fetchall, "sqlite")
        self.registry = RegistryReads(readers.fetchall, "sqlite")
        self.upgraded = upgraded

    async def finish_upgrade(self, progress: Progress | None = None) -> bool:
        """Rebuild the projections if a migration asked for it; True if it did."""

        def pending(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT value FROM meta WHERE key = 'rebuild_pending'").fetchone()
            return row is not None

        if not await self.writer.submit(pending):
            return False
        await self.rebuild(progress)
        await self.writer.submit(
            lambda conn: conn.execute("DELETE FROM meta WHERE key = 'rebuild_pending'")
        )
        return True

    async def rebuild(self, progress: Progress | None = None, chunk: int = CHUNK) -> int:
        return await sqlite_rebuild.rebuild(self.writer, progress, chunk)

    async def verify(
        self,
        progress: Progress | None = None,
        shuffle: random.Random | None = None,
        chunk: int = CHUNK,
    ) -> dict[str, int]:
        return await sqlite_rebuild.verify(self.writer, progress, shuffle, chunk)

    async def refresh_statistics(self) -> list[str]:
        # The searches are written for SQLite's planner without statistics (sqlite_stat1
        # would change its choices, not only its estimates).
        return []

    async def close(self) -> None:
        await self.store.close()


async def open_sqlite(
    path: str,
    *,
    artifact_root: str,
    clock: Callable[[], int],
    retention_ms: int,
    synchronous: str = "FULL",
    readers: int = 4,
) -> SQLiteBackend:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = GroupCommitWriter(path, synchronous=synchronous)
    upgraded: list[Migration] = []
    await writer.start(lambda conn: upgraded.extend(upgrade_sqlite(conn)))
    pool = ReaderPool(path, readers)
    await pool.open()
    projector = SQLiteProjector()
    store = SQLiteEventStore(
        writer,
        pool,
        project=projector.apply,
        answer=answer_sqlite,
        project_many=projector.apply_many,
        answer_many=answer_sqlite_many,
        context=ContextSource(clock, artifact_root, retention_ms),
    )
    return SQLiteBackend(writer, pool, store, upgraded)


# -- PostgreSQL ----------------------------------------------------------------------------


class PostgresBackend:
    kind = "postgres"

    def __init__(
        self,
        pool: asyncpg.Pool,
        read_pool: asyncpg.Pool,
        store: PostgresEventStore,
        upgraded: list[Migration],
    ) -> None:
        self.pool = pool
        self.read_pool = read_pool
        self.store = store
        reads = PgFetchAll(read_pool)
        self.reads = SqlReadModel(reads, "postgres", commit_mark=reads.commit_mark)
        self.browse = Browse(PgFetchAll(read_pool))
        self.auth = AuthReads(PgFetchAll(read_pool))
        self.traces = TraceReads(PgFetchAll(read_pool), "postgres")
        self.registry = RegistryReads(PgFetchAll(read_pool), "postgres")
        self.upgraded = upgraded

    async def finish_upgrade(self, progress: Progress | None = None) -> bool:
        """Rebuild the projections if a migration asked for it; True if it did. Processes
        starting together take turns (the store's schema lock): the first rebuilds, the
        others find the flag gone."""
        async with self.pool.acquire() as conn, store_lock(conn):
            if await conn.fetchval("SELECT value FROM meta WHERE key = 'rebuild_pending'") is None:
                return False
            await self.rebuild(progress)
            await conn.execute("DELETE FROM meta WHERE key = 'rebuild_pending'")
        return True

    async def rebuild(self, progress: Progress | None = None, chunk: int = CHUNK) -> int:
        return await postgres_rebuild.rebuild(self.pool, progress, chunk)

    async def verify(
        self,
        progress: Progress | None = None,
        shuffle: random.Random | None = None,
        chunk: int = CHUNK,
    ) -> dict[str, int]:
        return await postgres_rebuild.verify(self.pool, progress, shuffle, chunk)

    async def refresh_statistics(self) -> list[str]:
        """When autovacuum is off, do what it would: ANALYZE the tables that changed by
        more than its threshold since their last analysis (without statistics PostgreSQL
        plans every search as if the tables were empty), and VACUUM those past its
        thresholds of inserted or dead rows (until a table is vacuumed, its visibility
        map is empty and every index-only scan, as a search's counts are, reads the
        table's rows too: the query mix's median 45 -> 25 ms on 100,000 runs). Returns
        the tables analyzed."""
        async with self.pool.acquire() as conn:
            if await conn.fetchval("SELECT current_setting('autovacuum')") == "on":
                return []
            stale = await conn.fetch(
                "SELECT relname, n_ins_since_vacuum > 1000 + 0.2 * n_live_tup "
                "OR n_dead_tup > 50 + 0.2 * n_live_tup FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() "
                "AND (n_mod_since_analyze > 50 + 0.1 * n_live_tup "
                "OR n_ins_since_vacuum > 1000 + 0.2 * n_live_tup "
                "OR n_dead_tup > 50 + 0.2 * n_live_tup) ORDER BY relname"
            )
            for table, vacuum in stale:
                await conn.execute(f'{"VACUUM (ANALYZE)" if vacuum else "ANALYZE"} "{table}"')
        return [row[0] for row in stale]

    async def close(self) -> None:
        await self.store.close()
        await self.read_pool.close()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A read connection's reset on its way back to the pool: none is needed (asyncpg
    still rolls back a transaction left open)."""


async def open_postgres(
    uri: str,
    *,
    artifact_root: str,
    clock: Callable[[], int],
    retention_ms: int,
    pool_size: int = 10,
) -> PostgresBackend:
    # Query parameters of the URI other than libpq's own (e.g. ?search_path=s) become
    # server settings of every connection (asyncpg).
    try:
        pool = await asyncpg.create_pool(
            uri, min_size=1, max_size=pool_size, server_settings=_POSTGRES_SETTINGS
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise UnsupportedBackend(f"cannot connect to PostgreSQL: {exc}") from None
    try:
        async with pool.acquire() as conn:
            upgraded = await upgrade_postgres(conn)
        # Reads have their own connections, planned for each query's own values: a plan
        # cached for one filter's parameters can be a scan of every run for the next one.
        # Their index probes read cached pages: at the default random_page_cost (4, for
        # spinning disks) PostgreSQL hashed a whole key's rows against a window of 2,000
        # runs rather than probe each (70 ms against 3 ms). No JIT: a search that tests
        # every run of 100,000 costs enough to pass jit_above_cost, and compiling its
        # expressions took longer than the few it saved (50-110 ms more on such searches).
        # A read connection runs single statements and changes nothing in its session:
        # it goes back to the pool without asyncpg's reset query (a round trip after
        # each statement, 0.14 ms of a 0.47 ms page read; a search runs 10-15 of them).
        read_pool = await asyncpg.create_pool(
            uri,
            min_size=1,
            max_size=pool_size,
            reset=_keep_session,
            server_settings={
                **_POSTGRES_SETTINGS,
                "plan_cache_mode": "force_custom_plan",
                "random_page_cost": "1.1",
                "jit": "off",
            },
        )
    except BaseException:
        await pool.close()
        raise
    projector = PostgresProjector()
    store = PostgresEventStore(
        pool,
        project=projector.apply,
        answer=answer_postgres,
        project_many=projector.apply_many,
        answer_many=answer_postgres_many,
        context=ContextSource(clock, artifact_root, retention_ms),
    )
    return PostgresBackend(pool, read_pool, store, upgraded)


# -- either --------------------------------------------------------------------------------


async def open_backend(
    uri: str,
    *,
    artifact_root: str = "mlflow-artifacts:/",
    clock: Callable[[], int] = system_clock,
    sqlite_synchronous: str = "FULL",
    pool_size: int = 10,
    retention_days: float = 30,
    progress: Progress | None = None,
) -> Backend:
    """Open the store at ``uri``, creating or upgrading its schema, with experiment 0.
    ``progress`` hears of a rebuild that an upgrade needs."""
    path = sqlite_path(uri)
    retention_ms = int(retention_days * 86_400_000)
    backend: SQLiteBackend | PostgresBackend
    if path is not None:
        backend = await open_sqlite(
            path,
            artifact_root=artifact_root,
            clock=clock,
            retention_ms=retention_ms,
            synchronous=sqlite_synchronous,
        )
    elif uri.startswith(("postgresql://", "postgres://")):
        backend = await open_postgres(
            uri,
            artifact_root=artifact_root,
            clock=clock,
            retention_ms=retention_ms,
            pool_size=pool_size,
        )
    else:
        scheme = uri.split(":", 1)[0]
        raise UnsupportedBackend(
            f"unsupported backend store URI scheme {scheme!r}; use sqlite:///path.db or "
            "postgresql://user:pass@host:port/db"
        )
    try:
        await backend.finish_upgrade(progress)
        await backend.store.execute(EnsureDefaultExperiment())
    except BaseException:
        await backend.close()
        raise
    return backend
