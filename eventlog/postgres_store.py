"""The event store on PostgreSQL: one transaction per command, many processes at once.

Concurrent writers are safe because
- a decision's lookups take the row locks it depends on (see ``sql_lookups.py``), so two
  commands that could contradict each other (a param logged twice, a log racing a delete)
  run one after the other;
- projections merge in any order (``merge.py``), so whichever commits first, the tables
  equal a replay;
- requests with the same Idempotency-Key are serialized by an advisory lock on the key;
- every write transaction takes the store's append lock first (``postgres_tail.py``), so
  a tailing reader waits only for transactions that may still append to this store.

Log-batch commands without an idempotency key go through a group commit
(``postgres_groups.py``): many commands, one transaction, a few statements.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from trackledger.eventlog.commands import AnyCommand, LogBatch
from trackledger.eventlog.context import ContextSource
from trackledger.eventlog.decide import Primed, decide
from trackledger.eventlog.errors import AlreadyExists, StoreUnavailable
from trackledger.eventlog.events import (
    TOMBSTONES,
    AnyEvent,
    Event,
    decode_event,
    encode_event,
)
from trackledger.eventlog.lookups import Lookup
from trackledger.eventlog.postgres_groups import AnswerMany, GroupCommitter, ProjectMany
from trackledger.eventlog.postgres_sql import connection, is_outage, unavailable
from trackledger.eventlog.postgres_tail import appending, horizon
from trackledger.eventlog.results import AnyResult, encode_result
from trackledger.eventlog.stats import WriteStats
from trackledger.eventlog.store import Idempotency, StoredEvent, cursor_parts

__all__ = ["PostgresEventStore", "decode_cursor", "encode_cursor"]

#: Applies one positioned event to the read model on the transaction's connection.
Projector = Callable[[asyncpg.Connection, AnyEvent, int], Awaitable[None]]
#: Answers one lookup from the read model on the transaction's connection.
Answerer = Callable[[asyncpg.Connection, Lookup], Awaitable[Any]]

_ATTEMPTS = 5
_EVENT_COLUMNS = "position, stream_id, type, recorded_at, actor, idempotency_key, payload"
#: The first of the streams ($1) an import would create that the log holds already: a
#: probe of the stream index per id. Written as ``stream_id = ANY($1) LIMIT 1``, the
#: plan PostgreSQL caches for a statement it runs again and again (a generic plan, the
#: ids unknown) expected many matches and read the log from its start until one: the
#: whole log when none is there, the usual case (1.4 s a batch at 250,000 events, so an
#: import's batches slowed as the log grew: 100,000 runs took 593 s).
_TAKEN_STREAM_SQL = (
    "SELECT s FROM unnest($1::text[]) s "
    "WHERE EXISTS (SELECT 1 FROM events e WHERE e.stream_id = s) LIMIT 1"
)


def encode_cursor(txid: int, position: int) -> str:
    return f"{txid}.{position}"


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return (0, 0)
    txid, position = [*cursor_parts(cursor, 2), 0][:2]
    return txid, position


def _stored(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        position=row["position"],
        stream_id=row["stream_id"],
        type=row["type"],
        recorded_at=row["recorded_at"],
        actor=row["actor"],
        idempotency_key=row["idempotency_key"],
        event=decode_event(row["payload"]),
        cursor=encode_cursor(int(row["txid"]), row["position"]),
    )


class PostgresEventStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        project: Projector,
        answer: Answerer,
        project_many: ProjectMany,
        answer_many: AnswerMany,
        context: ContextSource,
    ) -> None:
        self.pool = pool
        self._project = project
        self._answer = answer
        self._context = context
        self._project_many = project_many
        self._groups = GroupCommitter(
            pool, append=self._append, answer_many=answer_many, project_many=project_many
        )

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
            return await self._groups.submit(command, ctx, Primed(decide(command, ctx)), actor)
        for attempt in range(_ATTEMPTS):
            # Validation runs before a connection is taken (and anew on a retry).
            primed = Primed(decide(command, ctx))
            try:
                started = time.perf_counter()
                async with self.pool.acquire() as conn, appending(conn):
                    result = await self._execute_in(conn, primed, now, actor, idempotency)
                self.stats.committed(1, time.perf_counter() - started)
                return result
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                # Row locks taken in different orders by unrelated commands: retry.
                if attempt == _ATTEMPTS - 1:
                    raise StoreUnavailable("the write kept conflicting with others") from None
            except Exception as exc:
                if is_outage(exc):
                    self.stats.errors += 1
                    raise unavailable(exc) from None
                raise
        raise AssertionError("unreachable")

    async def _execute_in(
        self,
        conn: asyncpg.Connection,
        primed: Primed,
        now: int,
        actor: str | None,
        idempotency: Idempotency | None,
    ) -> AnyResult:
        if idempotency is not None:
            # Concurrent requests with one key wait here; the second finds the first's row.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"idempotency:{idempotency.key}",
            )
            row = await conn.fetchrow(
                "SELECT request_hash, result FROM idempotency WHERE key = $1", idempotency.key
            )
            if row is not None:
                return idempotency.first_answer(bytes(row["request_hash"]), bytes(row["result"]))
        outcome = await primed.finish(lambda lookup: self._answer(conn, lookup))
        key = idempotency.key if idempotency else None
        for event in outcome.events:
            if isinstance(event, TOMBSTONES):
                # Purge: the stream's events go in this transaction, before its tombstone;
                # the setting lets the append-only trigger pass for this transaction only.
                await conn.execute("SET LOCAL trackledger.purge = 'on'")
                await conn.execute("DELETE FROM events WHERE stream_id = $1", event.stream)
                await conn.execute("SET LOCAL trackledger.purge = 'off'")
        positions = await self._append(conn, [(e, now, actor) for e in outcome.events], key)
        for event, position in zip(outcome.events, positions, strict=True):
            await self._project(conn, event, position)  # type: ignore[arg-type]
        result: AnyResult = outcome.result
        if idempotency is not None:
            await conn.execute(
                "INSERT INTO idempotency (key, request_hash, result, created_at) "
                "VALUES ($1, $2, $3, $4)",
                idempotency.key,
                idempotency.request_hash,
                encode_result(result),
                now,
            )
        return result

    async def _append(
        self,
        conn: asyncpg.Connection,
        rows: list[tuple[Event, int, str | None]],
        key: str | None = None,
    ) -> list[int]:
        """Append (event, recorded_at, actor) rows with one statement; their positions."""
        if not rows:
            return []
        # Identity values are drawn in the order the SELECT yields rows, so sorting the
        # returned positions pairs them with the events in order.
        result = await conn.fetch(
            "INSERT INTO events (stream_id, type, recorded_at, actor, idempotency_key, payload) "
            "SELECT s, t, r, a, $5, p FROM unnest($1::text[], $2::text[], $3::int8[], "
            "$4::text[], $6::bytea[]) WITH ORDINALITY AS e(s, t, r, a, p, n) "
            "ORDER BY n RETURNING position",
            [e.stream for e, _, _ in rows],
            [e.__struct_config__.tag for e, _, _ in rows],
            [now for _, now, _ in rows],
            [actor for _, _, actor in rows],
            key,
            [encode_event(e) for e, _, _ in rows],
        )
        positions = sorted(row["position"] for row in result)
        self.stats.appended(positions[-1])
        return positions

    async def append_imported(
        self, events: list[StoredEvent], *, new_streams: Sequence[str] = ()
    ) -> int:
        async with self.pool.acquire() as conn, appending(conn):
            if new_streams:
                taken = await conn.fetchval(_TAKEN_STREAM_SQL, list(new_streams))
                if taken is not None:
                    raise AlreadyExists(f"{taken} already exists in this store")
            rows = await conn.fetch(
                "INSERT INTO events (stream_id, type, recorded_at, actor, idempotency_key, "
                "payload) SELECT s, t, r, a, k, p FROM unnest($1::text[], $2::text[], "
                "$3::int8[], $4::text[], $5::text[], $6::bytea[]) "
                "WITH ORDINALITY AS e(s, t, r, a, k, p, n) ORDER BY n RETURNING position",
                [s.stream_id for s in events],
                [s.type for s in events],
                [s.recorded_at for s in events],
                [s.actor for s in events],
                [s.idempotency_key for s in events],
                [encode_event(s.event) for s in events],
            )
            positions = sorted(row["position"] for row in rows)
            # The merges do not depend on order: one statement per kind of change.
            await self._project_many(
                conn, [(s.event, p) for s, p in zip(events, positions, strict=True)]
            )
            # New experiments must not reuse an imported id.
            await conn.execute(
                "SELECT setval('experiment_ids', GREATEST((SELECT last_value FROM "
                "experiment_ids), (SELECT COALESCE(MAX(experiment_id), 1) FROM experiments)))"
            )
        return len(events)

    async def read_stream(
        self, stream_id: str, after: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        async with connection(self.pool) as conn:
            rows = await conn.fetch(
                f"SELECT {_EVENT_COLUMNS}, txid::text::bigint AS txid FROM events "
                "WHERE stream_id = $1 AND position > $2 ORDER BY position LIMIT $3",
                stream_id,
                after,
                limit,
            )
        return [_stored(row) for row in rows]

    async def read_all(self, after: str | None = None, limit: int = 1000) -> list[StoredEvent]:
        """Events after ``after`` (a cursor) in (txid, position) order.

        Only transactions below the horizon of this store's appenders are read, so one
        that commits late cannot add an event behind a cursor already handed out, and
        transactions elsewhere on the server hold nothing back (``postgres_tail.py``).
        """
        cursor = decode_cursor(after)
        async with connection(self.pool) as conn:
            # Two statements outside a transaction block: the read's snapshot is newer
            # than the horizon's.
            below = await horizon(conn, cursor)
            if below is None:
                return []
            rows = await conn.fetch(
                f"SELECT {_EVENT_COLUMNS}, txid::text::bigint AS txid FROM events "
                "WHERE (txid, position) > ($1::text::xid8, $2) AND txid < $3::text::xid8 "
                "ORDER BY txid, position LIMIT $4",
                str(cursor[0]),
                cursor[1],
                str(below),
                limit,
            )
        return [_stored(row) for row in rows]

    @property
    def stats(self) -> WriteStats:
        return self._groups.stats

    def queued(self) -> int:
        return self._groups.queued

    async def read_snapshot(self, page: int = 5000) -> AsyncGenerator[list[StoredEvent], None]:
        # One REPEATABLE READ transaction: every page reads the snapshot of the first.
        async with (
            connection(self.pool) as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            after = 0
            while True:
                rows = await conn.fetch(
                    f"SELECT {_EVENT_COLUMNS}, txid::text::bigint AS txid FROM events "
                    "WHERE position > $1 ORDER BY position LIMIT $2",
                    after,
                    page,
                )
                if not rows:
                    return
                yield [_stored(row) for row in rows]
                after = rows[-1]["position"]

    async def close(self) -> None:
        await self._groups.close()
        await self.pool.close()
