"""The event store on SQLite: commands decided, appended and projected on the writer thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from trackledger.eventlog.commands import AnyCommand
from trackledger.eventlog.context import ContextSource
from trackledger.eventlog.decide import Primed, decide
from trackledger.eventlog.events import (
    TOMBSTONES,
    AnyEvent,
    decode_event,
    encode_event,
)
from trackledger.eventlog.results import AnyResult, encode_result
from trackledger.eventlog.sqlite_readers import ReaderPool
from trackledger.eventlog.sqlite_writer import GroupCommitWriter
from trackledger.eventlog.store import Idempotency, StoredEvent

__all__ = ["SQLiteEventStore"]

#: Applies one positioned event to the read model on the write connection.
Projector = Callable[[sqlite3.Connection, AnyEvent, int], None]
#: Answers one lookup from the read model on the write connection.
Answerer = Callable[[sqlite3.Connection, Any], Any]

_INSERT_EVENT = (
    "INSERT INTO events (stream_id, type, recorded_at, actor, idempotency_key, payload) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_EVENT_COLUMNS = "position, stream_id, type, recorded_at, actor, idempotency_key, payload"


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
        context: ContextSource,
    ) -> None:
        self.writer = writer
        self.readers = readers
        self._project = project
        self._answer = answer
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
        primed = Primed(decide(command, ctx))  # validation runs here, off the writer thread
        return await self.writer.submit(
            lambda conn: self._execute_sync(conn, primed, now, actor, idempotency)
        )

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
            cursor = conn.execute(
                _INSERT_EVENT,
                (event.stream, event.__struct_config__.tag, now, actor, key, encode_event(event)),
            )
            assert cursor.lastrowid is not None
            self._project(conn, event, cursor.lastrowid)  # type: ignore[arg-type]
        result: AnyResult = outcome.result
        if idempotency is not None:
            conn.execute(
                "INSERT INTO idempotency (key, request_hash, result, created_at) "
                "VALUES (?, ?, ?, ?)",
                (idempotency.key, idempotency.request_hash, encode_result(result), now),
            )
        return result

    async def append_imported(self, events: list[StoredEvent]) -> int:
        def job(conn: sqlite3.Connection) -> int:
            for stored in events:
                cursor = conn.execute(
                    _INSERT_EVENT,
                    (
                        stored.stream_id,
                        stored.type,
                        stored.recorded_at,
                        stored.actor,
                        stored.idempotency_key,
                        encode_event(stored.event),
                    ),
                )
                assert cursor.lastrowid is not None
                self._project(conn, stored.event, cursor.lastrowid)
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

    async def read_all(self, after: str | None = None, limit: int = 1000) -> list[StoredEvent]:
        # One writer commits in position order, so the position is a safe cursor.
        rows = await self.readers.fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (int(after or 0), limit),
        )
        return [_stored(row) for row in rows]

    async def close(self) -> None:
        await self.writer.close()
        await self.readers.close()
