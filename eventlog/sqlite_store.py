"""The event store on SQLite: commands decided, appended and projected on the writer thread.

Log-batch commands without an idempotency key that meet in one writer group are decided
and written together (as on PostgreSQL, ``postgres_groups.py``): their decisions run in
lockstep, at most one command per run at a time, with one query per kind of lookup, one
append and one statement per kind of change for all of them. Fewer statements means fewer
hand-overs of the GIL between the writer and the event loop, which set the writer's pace.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from trackledger.eventlog.commands import AnyCommand, LogBatch
from trackledger.eventlog.context import ContextSource, DecideContext
from trackledger.eventlog.decide import Lockstep, Primed, decide
from trackledger.eventlog.errors import AlreadyExists
from trackledger.eventlog.events import (
    TOMBSTONES,
    AnyEvent,
    Event,
    decode_event,
    encode_event,
)
from trackledger.eventlog.lookups import Lookup
from trackledger.eventlog.results import AnyResult, encode_result
from trackledger.eventlog.sqlite_readers import ReaderPool
from trackledger.eventlog.sqlite_sql import many_rows
from trackledger.eventlog.sqlite_writer import GroupCommitWriter, Outcomes
from trackledger.eventlog.stats import WriteStats
from trackledger.eventlog.store import Idempotency, StoredEvent, cursor_parts

__all__ = ["SQLiteEventStore"]

#: Applies one positioned event to the read model on the write connection.
Projector = Callable[[sqlite3.Connection, AnyEvent, int], None]
#: Answers one lookup from the read model on the write connection.
Answerer = Callable[[sqlite3.Connection, Any], Any]
#: Applies several positioned events to the read model at once.
ManyProjector = Callable[[sqlite3.Connection, list[tuple[AnyEvent, int]]], None]
#: Answers lookups of unrelated decisions, in order.
ManyAnswerer = Callable[[sqlite3.Connection, list[Lookup]], list[Any]]

_INSERT_EVENT = (
    "INSERT INTO events (stream_id, type, recorded_at, actor, idempotency_key, payload) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_EVENT_COLUMNS = "position, stream_id, type, recorded_at, actor, idempotency_key, payload"


def _event_row(event: Event, now: int, actor: str | None, key: str | None) -> tuple[Any, ...]:
    """The events table's columns for appending ``event`` (see ``_INSERT_EVENT``)."""
    return (event.stream, event.__struct_config__.tag, now, actor, key, encode_event(event))


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(
        position=row[0],
        stream_id=row[1],
        type=row[2],
        recorded_at=row[3],
        actor=row[4],
        idempotency_key=row[5],
        event=decode_event(row[6]),
        cursor=str(row[0]),
    )


class SQLiteEventStore:
    def __init__(
        self,
        writer: GroupCommitWriter,
        readers: ReaderPool,
        *,
        project: Projector,
        answer: Answerer,
        project_many: ManyProjector,
        answer_many: ManyAnswerer,
        context: ContextSource,
    ) -> None:
        self.writer = writer
        self.readers = readers
        self._project = project
        self._answer = answer
        self._project_many = project_many
        self._answer_many = answer_many
        self._context = context

    async def execute(
        self,
        command: AnyCommand,
        *,
        actor: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> AnyResult:
        ctx = self._context()
        now = ctx.now
        if isinstance(command, LogBatch) and idempotency is None:
            return await self.writer.submit(_BatchJob(self, command, ctx, actor))
        primed = Primed(decide(command, ctx))  # validation runs here, off the writer thread
        return await self.writer.submit(
            lambda conn: self._execute_sync(conn, primed, now, actor, idempotency)
        )

    def _log_batches(self, conn: sqlite3.Connection, jobs: list[_BatchJob]) -> Outcomes:
        """Decide and write log-batch commands together (the writer's fused path)."""
        outcomes: Outcomes = [(False, None)] * len(jobs)
        for wave in _one_per_run(jobs):
            step = Lockstep([jobs[i].take_primed() for i in wave])
            while pending := step.pending():
                step.give(self._answer_many(conn, [lookup for _, lookup in pending]))
            accepted: list[tuple[Event, _BatchJob]] = []
            for i, decided in zip(wave, step.outcomes(), strict=True):
                if isinstance(decided, Exception):
                    outcomes[i] = (False, decided)
                    continue
                outcomes[i] = (True, decided.result)
                accepted.extend((event, jobs[i]) for event in decided.events)
            if accepted:
                rows = [_event_row(event, job.ctx.now, job.actor, None) for event, job in accepted]
                positions = _append_many(conn, rows)
                self.writer.stats.appended(positions[-1])
                self._project_many(
                    conn,
                    [(event, pos) for (event, _), pos in zip(accepted, positions, strict=True)],  # type: ignore[misc]
                )
        return outcomes

    def _execute_sync(
        self,
        conn: sqlite3.Connection,
        primed: Primed,
        now: int,
        actor: str | None,
        idempotency: Idempotency | None,
    ) -> AnyResult:
        if idempotency is not None:
            row = conn.execute(
                "SELECT request_hash, result FROM idempotency WHERE key = ?", (idempotency.key,)
            ).fetchone()
            if row is not None:
                return idempotency.first_answer(row[0], row[1])
        outcome = primed.finish_sync(lambda lookup: self._answer(conn, lookup))
        key = idempotency.key if idempotency else None
        for event in outcome.events:
            if isinstance(event, TOMBSTONES):
                # Purge: the stream's events go, in this same transaction, before its
                # tombstone is appended. The permit row lets the append-only trigger pass.
                conn.execute("INSERT INTO purge_permit (id) VALUES (1)")
                conn.execute("DELETE FROM events WHERE stream_id = ?", (event.stream,))
                conn.execute("DELETE FROM purge_permit")
            cursor = conn.execute(_INSERT_EVENT, _event_row(event, now, actor, key))
            assert cursor.lastrowid is not None
            self.writer.stats.appended(cursor.lastrowid)
            self._project(conn, event, cursor.lastrowid)  # type: ignore[arg-type]
        result: AnyResult = outcome.result
        if idempotency is not None:
            conn.execute(
                "INSERT INTO idempotency (key, request_hash, result, created_at) "
                "VALUES (?, ?, ?, ?)",
                (idempotency.key, idempotency.request_hash, encode_result(result), now),
            )
        return result

    async def append_imported(
        self, events: list[StoredEvent], *, new_streams: Sequence[str] = ()
    ) -> int:
        def job(conn: sqlite3.Connection) -> int:
            _check_new_streams(conn, new_streams)
            positioned: list[tuple[AnyEvent, int]] = []
            for start in range(0, len(events), _IMPORT_ROWS):
                chunk = events[start : start + _IMPORT_ROWS]
                rows = [
                    (
                        s.stream_id,
                        s.type,
                        s.recorded_at,
                        s.actor,
                        s.idempotency_key,
                        encode_event(s.event),
                    )
                    for s in chunk
                ]
                positions = _append_many(conn, rows)
                positioned.extend(zip((s.event for s in chunk), positions, strict=True))
            if positioned:
                self.writer.stats.appended(positioned[-1][1])
                # The merges do not depend on order: one statement per kind of change.
                self._project_many(conn, positioned)
            # New experiments must not reuse an imported id.
            conn.execute(
                "INSERT INTO counters (name, value) VALUES ('experiment_id', "
                "(SELECT COALESCE(MAX(experiment_id), 0) FROM experiments)) "
                "ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)"
            )
            return len(events)

        return await self.writer.submit(job)

    async def read_stream(
        self, stream_id: str, after: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        rows = await self.readers.fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE stream_id = ? AND position > ? "
            "ORDER BY position LIMIT ?",
            (stream_id, after, limit),
        )
        return [_stored(row) for row in rows]

    async def last_position(self) -> int | None:
        """The position of the last event appended (None for an empty log): it grows with
        every commit, in the order of the commits (one writer)."""
        rows = await self.readers.fetchall("SELECT max(position) FROM events")
        return None if rows[0][0] is None else int(rows[0][0])

    async def read_all(self, after: str | None = None, limit: int = 1000) -> list[StoredEvent]:
        # One writer commits in position order, so the position is a safe cursor.
        rows = await self.readers.fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (cursor_parts(after, 1)[0] if after else 0, limit),
        )
        return [_stored(row) for row in rows]

    @property
    def stats(self) -> WriteStats:
        return self.writer.stats

    def queued(self) -> int:
        return self.writer.queued

    async def read_snapshot(self, page: int = 5000) -> AsyncGenerator[list[StoredEvent], None]:
        # One read transaction: in WAL mode it sees the log as of its first read, while
        # the writer goes on (the WAL cannot be reset behind it until it ends).
        async with self.readers.connection() as reader:
            await reader.execute("BEGIN")
            try:
                after = 0
                while True:
                    rows = await reader.fetchall(
                        f"SELECT {_EVENT_COLUMNS} FROM events WHERE position > ? "
                        "ORDER BY position LIMIT ?",
                        (after, page),
                    )
                    if not rows:
                        return
                    yield [_stored(row) for row in rows]
                    after = rows[-1][0]
            finally:
                await reader.execute("ROLLBACK")

    async def close(self) -> None:
        await self.writer.close()
        await self.readers.close()


class _BatchJob:
    """A log-batch command queued for the writer: alone it runs as any command; with its
    neighbours the writer hands them all to ``together`` (the store's ``_log_batches``)."""

    __slots__ = ("actor", "command", "ctx", "primed", "store", "together")

    def __init__(
        self, store: SQLiteEventStore, command: LogBatch, ctx: DecideContext, actor: str | None
    ) -> None:
        self.store = store
        self.command = command
        self.ctx = ctx
        self.actor = actor
        self.primed: Primed | None = Primed(decide(command, ctx))  # validation, off the writer
        self.together = store._log_batches

    def take_primed(self) -> Primed:
        """The primed decision, once: a decision runs once, so a second use decides anew."""
        primed, self.primed = self.primed, None
        return primed if primed is not None else Primed(decide(self.command, self.ctx))

    def __call__(self, conn: sqlite3.Connection) -> AnyResult:
        return self.store._execute_sync(conn, self.take_primed(), self.ctx.now, self.actor, None)


def _one_per_run(jobs: list[_BatchJob]) -> list[list[int]]:
    """Indexes of ``jobs`` in waves holding each run at most once, in arrival order: a run's
    second command goes in the next wave, which sees what the first wrote."""
    waves: list[list[int]] = []
    seen: dict[str, int] = {}
    for i, job in enumerate(jobs):
        n = seen.get(job.command.run_id, 0)
        seen[job.command.run_id] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(i)
    return waves


#: Event rows per INSERT of an import (6 parameters each, under SQLite's limit of 32,766).
_IMPORT_ROWS = 4096


def _check_new_streams(conn: sqlite3.Connection, streams: Sequence[str]) -> None:
    for start in range(0, len(streams), 5000):
        chunk = list(streams[start : start + 5000])
        row = conn.execute(
            f"SELECT stream_id FROM events WHERE stream_id IN ({','.join('?' * len(chunk))}) "
            "LIMIT 1",
            chunk,
        ).fetchone()
        if row is not None:
            raise AlreadyExists(f"{row[0]} already exists in this store")


def _append_many(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    """Append event rows with one statement; return their positions, in order. The one
    writer inside its transaction makes an AUTOINCREMENT key number them consecutively."""
    cursor = conn.execute(many_rows(_INSERT_EVENT, len(rows)), [v for row in rows for v in row])
    last = cursor.lastrowid
    assert last is not None and cursor.rowcount == len(rows)
    return list(range(last - len(rows) + 1, last + 1))
