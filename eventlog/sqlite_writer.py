"""SQLite's single writer: one thread owns the only write connection and commits queued
jobs together (group commit).

Why: SQLite admits one writer at a time, so many connections writing only queue up on the
file lock and fail with "database is locked". One writer never contends, and committing a
whole queue of requests in one transaction pays one fsync for all of them
(reference/event-sourcing-design.md section 3.2). The whole group runs as one synchronous
function on the writer thread, so the cost of crossing threads does not grow with the
number of statements (aiosqlite pays one hop per statement).

Each job runs inside its own SAVEPOINT: a job that raises is rolled back alone and its
neighbours in the group still commit. A job's result is delivered only after COMMIT
returned, so an acknowledged write is durable (WAL with synchronous=FULL by default).

WAL checkpoints (copying committed pages back into the database file) run on a second
thread with its own connection. Left to SQLite's automatic checkpoint they run inside
COMMIT on the writer, which measured as the largest single cost of ingest. A PASSIVE
checkpoint never blocks the writer; the automatic one stays, set high, as a backstop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from trackledger.eventlog.errors import StoreUnavailable

__all__ = ["GroupCommitWriter", "connect"]

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_STOP = object()


CHECKPOINT_INTERVAL = 0.25  # seconds between background checkpoints
BACKSTOP_PAGES = 50_000  # the writer checkpoints itself past this WAL size (about 200 MB)


def connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=512
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    return conn


class _Checkpointer(threading.Thread):
    """Checkpoints the WAL in the background until stopped, then truncates it."""

    def __init__(self, path: str, synchronous: str) -> None:
        super().__init__(name="trackledger-checkpointer", daemon=True)
        self._path = path
        self._synchronous = synchronous
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn = connect(self._path, self._synchronous)
        try:
            while not self._stop_event.wait(CHECKPOINT_INTERVAL):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class GroupCommitWriter:
    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "FULL",
        max_group: int = 1000,
        queue_size: int = 20000,
    ) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"unsupported synchronous mode {synchronous!r}")
        self._path = path
        self._synchronous = synchronous.upper()
        self._max_group = max_group
        # Bounded: when the disk cannot keep up, producers wait instead of piling up memory.
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="trackledger-writer")
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._checkpointer = _Checkpointer(path, self._synchronous)
        self._closed = False

    async def start(self, setup: Job) -> None:
        """Open the write connection and run ``setup`` (schema, migrations) on it."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._open, setup)
        self._task = asyncio.create_task(self._run(), name="trackledger-writer")
        self._checkpointer.start()

    def _open(self, setup: Job) -> None:
        self._conn = connect(self._path, self._synchronous)
        setup(self._conn)

    async def submit(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` in the next group transaction; return its result once committed."""
        if self._closed:
            raise StoreUnavailable("the store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((job, future))
        return await future

    async def run_exclusive(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on the writer thread outside any transaction (DDL, long rebuilds)."""
        result: T = await self.submit(_Exclusive(job))
        return result

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            group = [await self._queue.get()]
            while len(group) < self._max_group and not self._queue.empty():
                group.append(self._queue.get_nowait())
            if _STOP in group:
                stopping = True
                group = [item for item in group if item is not _STOP]
            while group:
                batch, group = _split_exclusive(group)
                jobs = [job for job, _ in batch]
                try:
                    outcomes = await loop.run_in_executor(self._executor, self._commit, jobs)
                except Exception as exc:  # the COMMIT itself failed: nothing in it holds
                    error = StoreUnavailable(f"the write could not be committed: {exc}")
                    outcomes = [(False, error)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)

    def _commit(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        conn = self._conn
        assert conn is not None, "writer used before start()"
        if len(jobs) == 1 and isinstance(jobs[0], _Exclusive):
            try:
                return [(True, jobs[0].job(conn))]
            except Exception as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return [(False, exc)]
        results: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job in jobs:
                conn.execute("SAVEPOINT job")
                try:
                    value = job(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((True, value))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            await self._queue.put(_STOP)
            await self._task
        loop = asyncio.get_running_loop()
        if self._checkpointer.is_alive():
            await loop.run_in_executor(None, self._checkpointer.stop)
        if self._conn is not None:
            await loop.run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=True)


class _Exclusive:
    """A job that must run alone, outside the group transaction."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self, conn: sqlite3.Connection) -> Any:
        return self.job(conn)


def _split_exclusive(group: list[Any]) -> tuple[list[Any], list[Any]]:
    """Take the leading run of ordinary jobs, or one exclusive job, off ``group``."""
    if isinstance(group[0][0], _Exclusive):
        return group[:1], group[1:]
    for i, (job, _) in enumerate(group):
        if isinstance(job, _Exclusive):
            return group[:i], group[i:]
    return group, []
