"""SQLite's single writer: one thread owns the only write connection and commits queued
jobs together (group commit).

Why: SQLite admits one writer at a time, so many connections writing only queue up on the
file lock and fail with "database is locked". One writer never contends, and committing a
whole queue of requests in one transaction pays one fsync for all of them
(reference/event-sourcing-design.md section 3.2). The whole group runs as one synchronous
function on the writer thread, so the cost of crossing threads does not grow with the
number of statements (a thread hop per statement, as aiosqlite does, would).

Each job runs inside its own SAVEPOINT: a job that raises is rolled back alone and its
neighbours in the group still commit. Neighbouring jobs that carry the same ``together``
function run through it at once, inside one SAVEPOINT; should it raise, they run again one
by one.

A job's result is delivered only once its COMMIT is durable. In FULL mode (the default)
the durability comes from a third thread: the connection commits without waiting for the
disk (SQLite's NORMAL), and the syncer thread flushes the WAL file with fdatasync and only
then answers. The writer meanwhile commits the next group, so the disk's flush time (a
third of the writer's time when it waited) overlaps with work instead of adding to it. A
group is answered after a flush that began after its COMMIT returned, which is what FULL
promises. (The WAL is never rewound before a checkpoint has copied and synced its frames
into the database file, so a flush never misses a frame it owes.) NORMAL answers right
after COMMIT: a process crash loses nothing, a power loss may lose the last groups.

WAL checkpoints (copying committed pages back into the database file) run on a second
thread with its own connection. Left to SQLite's automatic checkpoint they run inside
COMMIT on the writer, which measured as the largest single cost of ingest. A PASSIVE
checkpoint never blocks the writer; the automatic one stays, set high, as a backstop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from trackledger.eventlog.errors import StoreUnavailable
from trackledger.eventlog.stats import WriteStats

__all__ = ["GroupCommitWriter", "Outcomes", "connect"]

log = logging.getLogger("trackledger.writer")

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_STOP = object()


CHECKPOINT_INTERVAL = 0.1  # seconds between background checkpoints (smaller ones stall less)
BACKSTOP_PAGES = 50_000  # the writer checkpoints itself past this WAL size (about 200 MB)
CACHE_KIB = 131_072  # page cache of the write connection
#: When a checkpoint lets the WAL start over, it is cut back to this size, so a WAL that
#: grew while checkpoints could not run (a full disk, a long reader) shrinks again; past
#: four times it, the checkpointer waits for a gap between groups and truncates the WAL.
WAL_KEEP_BYTES = 512 * 2**20  # far above a WAL under steady load (a smaller one cost p99)


def connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=512
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
    # Statement journals (a copy of each page a multi-row statement or a savepoint touches)
    # stay in memory: in temp files they were half of all the bytes ingest wrote.
    conn.execute("PRAGMA temp_store=MEMORY")
    # The pages ingest keeps touching (each series' last leaf, the indexes) stay cached:
    # with SQLite's 2 MB default the writer re-read a fifth of what it wrote.
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return conn


class _Checkpointer(threading.Thread):
    """Checkpoints the WAL in the background until stopped, then truncates it."""

    def __init__(self, path: str, synchronous: str) -> None:
        super().__init__(name="trackledger-checkpointer", daemon=True)
        self._path = path
        self._synchronous = synchronous
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn: sqlite3.Connection | None = None
        failing = False
        while not self._stop_event.wait(CHECKPOINT_INTERVAL):
            # A failed checkpoint (a full disk, an I/O error) is tried again, never the end
            # of the thread: without checkpoints the WAL only grows.
            try:
                conn = conn or connect(self._path, self._synchronous)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                if _size(f"{self._path}-wal") > 4 * WAL_KEEP_BYTES:
                    # Passive checkpoints never catch up with a writer that keeps writing,
                    # and the WAL starts over only once one has: past the bound, wait for a
                    # gap between groups, copy everything back and cut the WAL to nothing.
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                if failing:
                    log.warning("WAL checkpoints work again")
                failing = False
            except sqlite3.Error as exc:
                if not failing:
                    log.error("WAL checkpoint failed, retrying: %s", exc)
                failing = True
                if conn is not None:
                    conn.close()
                    conn = None
        try:
            conn = conn or connect(self._path, self._synchronous)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.error("final WAL checkpoint failed: %s", exc)
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


#: (ok, value) for each job of a group, in order.
Outcomes = list[tuple[bool, Any]]
#: The answers of one committed group: its futures and their outcomes.
Answers = tuple[list["asyncio.Future[Any]"], Outcomes]


class _WalSyncer(threading.Thread):
    """Makes committed groups durable (fdatasync of the WAL file), then hands them on."""

    def __init__(
        self, wal_path: str, deliver: Callable[[list[Answers]], None], stats: WriteStats
    ) -> None:
        super().__init__(name="trackledger-syncer", daemon=True)
        self.stats = stats
        self._fd = os.open(wal_path, os.O_RDONLY)
        self._deliver = deliver
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def put(self, answers: Answers) -> None:
        self._queue.put(answers)

    def run(self) -> None:
        try:
            stopping = False
            while not stopping:
                ready = _drain(self._queue, [self._queue.get()])
                if _STOP in ready:
                    stopping = True
                    ready = [item for item in ready if item is not _STOP]
                try:
                    started = time.perf_counter()
                    os.fdatasync(self._fd)
                    self.stats.syncs += 1
                    self.stats.sync_seconds += time.perf_counter() - started
                except OSError as exc:
                    self.stats.errors += 1
                    error = StoreUnavailable(f"the write could not be made durable: {exc}")
                    ready = [(futures, [(False, error)] * len(futures)) for futures, _ in ready]
                self._deliver(ready)
        finally:
            os.close(self._fd)

    def stop(self) -> None:
        self._queue.put(_STOP)
        self.join()


class GroupCommitWriter:
    """Runs jobs on one thread that owns the write connection and drives itself.

    The thread takes everything queued, commits it as one group and takes the next group at
    once; the event loop only hands jobs over and receives the answers. Dispatching each
    group from the event loop made the writer wait for the loop's turn.
    """

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
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Bounded: when the disk cannot keep up, producers wait instead of piling up memory.
        self._room = asyncio.Semaphore(queue_size)
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._syncer: _WalSyncer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._checkpointer = _Checkpointer(path, self._synchronous)
        self._closed = False
        self.stats = WriteStats()

    @property
    def queued(self) -> int:
        """Jobs waiting for the writer thread."""
        return self._queue.qsize()

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    async def start(self, setup: Job) -> None:
        """Open the write connection and run ``setup`` (schema, migrations) on it."""
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="trackledger-writer", daemon=True)
        self._thread.start()
        try:
            await self.run_exclusive(setup)
            if self._synchronous == "FULL":  # the WAL file exists once the setup wrote
                syncer = _WalSyncer(f"{self._path}-wal", self._deliver_soon, self.stats)
                syncer.start()
                await self.run_exclusive(lambda _: setattr(self, "_syncer", syncer))
        except BaseException:
            await self.close()
            raise
        self._checkpointer.start()

    async def submit(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` in the next group transaction; return its result once durable."""
        if self._closed or self._loop is None:
            raise StoreUnavailable("the store is closed")
        await self._room.acquire()
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((job, future))
        return await future

    async def run_exclusive(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on the writer thread outside any transaction (DDL, long rebuilds)."""
        result: T = await self.submit(_Exclusive(job))
        return result

    def _run(self) -> None:
        """The writer thread: commit what is queued, group after group, until stopped."""
        try:
            # FULL's flush is the syncer's; the connection itself need not wait for it.
            mode = "NORMAL" if self._synchronous == "FULL" else self._synchronous
            self._conn = conn = connect(self._path, mode)
        except Exception as exc:
            self._fail_pending(exc)
            return
        stopping = False
        while not stopping:
            group = _drain(self._queue, [self._queue.get()], self._max_group)
            if _STOP in group:
                stopping = True
                group = [item for item in group if item is not _STOP]
            while group:
                batch, group = _split_exclusive(group)
                started = time.perf_counter()
                try:
                    outcomes = self._commit([job for job, _ in batch])
                except Exception as exc:  # the COMMIT itself failed: nothing in it holds
                    error = StoreUnavailable(f"the write could not be committed: {exc}")
                    outcomes = [(False, error)] * len(batch)
                    self.stats.errors += 1
                self.stats.committed(len(batch), time.perf_counter() - started)
                answers = ([future for _, future in batch], outcomes)
                if self._syncer is not None:
                    self._syncer.put(answers)
                else:
                    self._deliver_soon([answers])
            self._catch_up(conn)
        if self._syncer is not None:
            self._syncer.stop()
        conn.close()
        self._call_soon(_resolve, self._stopped)

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        """Past four times ``WAL_KEEP_BYTES``, the writer checkpoints the WAL itself between
        groups, when no frame is being added. The checkpointer's checkpoints run beside the
        writer: when requests follow one another without a pause (a client's log-batch
        loop), the writer adds frames while each one copies, none copies the last frame, and
        the WAL, which starts over only once one has, grows until the disk is full (seen
        after a full disk came back: 300 batches in a row filled it again). A passive
        checkpoint waits for no reader: one that holds old frames only delays it."""
        if _size(f"{self._path}-wal") <= 4 * WAL_KEEP_BYTES:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the checkpointer's own errors are logged there
            log.debug("writer's WAL checkpoint failed: %s", exc)

    def _fail_pending(self, exc: Exception) -> None:
        """The connection could not open: every queued job (the setup first) gets ``exc``."""
        while (item := self._queue.get()) is not _STOP:
            self._deliver_soon([([item[1]], [(False, exc)])])
        self._call_soon(_resolve, self._stopped)

    def _deliver_soon(self, ready: list[Answers]) -> None:
        """Hand answers to the event loop (from the writer or the syncer thread)."""
        self._call_soon(self._deliver, ready)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _deliver(self, ready: list[Answers]) -> None:
        for futures, outcomes in ready:
            for future, (ok, value) in zip(futures, outcomes, strict=True):
                self._room.release()
                if future.done():  # its waiter went away; the write stands
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _commit(self, jobs: list[Job]) -> Outcomes:
        conn = self._conn
        assert conn is not None, "writer used before start()"
        if len(jobs) == 1 and isinstance(jobs[0], _Exclusive):
            try:
                return [(True, jobs[0].job(conn))]
            except Exception as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return [(False, exc)]
        results: Outcomes = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            start = 0
            while start < len(jobs):
                together = getattr(jobs[start], "together", None)
                end = start + 1
                while together is not None and end < len(jobs):
                    if getattr(jobs[end], "together", None) != together:
                        break
                    end += 1
                if end - start > 1:
                    results.extend(self._together(conn, together, jobs[start:end]))
                else:
                    results.append(_alone(conn, jobs[start]))
                start = end
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    @staticmethod
    def _together(conn: sqlite3.Connection, together: Any, jobs: list[Job]) -> Outcomes:
        conn.execute("SAVEPOINT together")
        try:
            outcomes: Outcomes = together(conn, jobs)
        except Exception:
            conn.execute("ROLLBACK TO together")
            conn.execute("RELEASE together")
            return [_alone(conn, job) for job in jobs]
        conn.execute("RELEASE together")
        return outcomes

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._thread is not None and self._stopped is not None:
            self._queue.put(_STOP)
            await self._stopped
            await loop.run_in_executor(None, self._thread.join)
        if self._checkpointer.is_alive():
            await loop.run_in_executor(None, self._checkpointer.stop)


def _alone(conn: sqlite3.Connection, job: Job) -> tuple[bool, Any]:
    conn.execute("SAVEPOINT job")
    try:
        value = job(conn)
    except Exception as exc:
        if not conn.in_transaction:  # SQLite gave up the whole transaction (disk full)
            raise
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return (False, _unavailable(exc) if _out_of_space(exc) else exc)
    conn.execute("RELEASE job")
    return (True, value)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _out_of_space(exc: Exception) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    return isinstance(exc, sqlite3.Error) and code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"the write could not be stored: {exc}")


def _resolve(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _drain(source: queue.SimpleQueue[Any], items: list[Any], limit: int = 0) -> list[Any]:
    """``items`` and whatever ``source`` holds now (at most ``limit`` in all, if given)."""
    while not limit or len(items) < limit:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            break
    return items


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
