"""Open a backend from its URI: the event store and the read model over one database."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from trackledger.eventlog.commands import EnsureDefaultExperiment
from trackledger.eventlog.sqlite_readers import ReaderPool
from trackledger.eventlog.sqlite_schema import LOG_DDL, SCHEMA_VERSION
from trackledger.eventlog.sqlite_store import SQLiteEventStore
from trackledger.eventlog.sqlite_writer import GroupCommitWriter
from trackledger.eventlog.store import EventStore, system_clock
from trackledger.projections import sqlite_rebuild
from trackledger.projections.sql_lookups import answer_sqlite
from trackledger.projections.sql_reads import SqlReadModel
from trackledger.projections.sqlite_apply import SQLiteProjector
from trackledger.projections.sqlite_rebuild import Progress
from trackledger.projections.views import ReadModel
from trackledger.settings import sqlite_path

__all__ = ["Backend", "SQLiteBackend", "UnsupportedBackend", "open_backend"]


class UnsupportedBackend(ValueError):
    pass


class Backend(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def store(self) -> EventStore: ...

    @property
    def reads(self) -> ReadModel: ...

    async def rebuild(self, progress: Progress | None = None) -> int: ...

    async def verify(self, progress: Progress | None = None) -> dict[str, int]: ...

    async def close(self) -> None: ...


def _setup_sqlite(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for ddl in LOG_DDL:
            conn.execute(ddl)
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise UnsupportedBackend(
                f"the database was written by a newer trackledger (schema {row[0]}, "
                f"this one knows {SCHEMA_VERSION})"
            )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        sqlite_rebuild.create_schema(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SQLiteBackend:
    kind = "sqlite"

    def __init__(
        self, writer: GroupCommitWriter, readers: ReaderPool, store: SQLiteEventStore
    ) -> None:
        self.writer = writer
        self.store = store
        self.reads = SqlReadModel(readers.fetchall, "sqlite")

    async def rebuild(self, progress: Progress | None = None) -> int:
        return await sqlite_rebuild.rebuild(self.writer, progress)

    async def verify(self, progress: Progress | None = None) -> dict[str, int]:
        return await sqlite_rebuild.verify(self.writer, progress)

    async def close(self) -> None:
        await self.store.close()


async def open_sqlite(
    path: str,
    *,
    artifact_root: str = "mlflow-artifacts:/",
    clock: Callable[[], int] = system_clock,
    synchronous: str = "FULL",
    readers: int = 4,
) -> SQLiteBackend:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = GroupCommitWriter(path, synchronous=synchronous)
    await writer.start(_setup_sqlite)
    pool = ReaderPool(path, readers)
    await pool.open()
    store = SQLiteEventStore(
        writer,
        pool,
        project=SQLiteProjector().apply,
        answer=answer_sqlite,
        clock=clock,
        artifact_root=artifact_root,
    )
    backend = SQLiteBackend(writer, pool, store)
    try:
        await store.execute(EnsureDefaultExperiment())
    except BaseException:
        await backend.close()
        raise
    return backend


async def open_backend(
    uri: str,
    *,
    artifact_root: str = "mlflow-artifacts:/",
    clock: Callable[[], int] = system_clock,
    sqlite_synchronous: str = "FULL",
) -> Backend:
    path = sqlite_path(uri)
    if path is not None:
        return await open_sqlite(
            path, artifact_root=artifact_root, clock=clock, synchronous=sqlite_synchronous
        )
    scheme = uri.split(":", 1)[0]
    raise UnsupportedBackend(
        f"unsupported backend store URI scheme {scheme!r}; use sqlite:///path.db"
    )
