"""Rebuild the read model from the log, or verify it against a replay, on PostgreSQL.

The log is replayed into shadow tables in chunks, each its own transaction, while servers
keep appending and reading. Chunks follow the tail order (txid, position) below the
horizon of this store's appenders (``postgres_tail.py``), so an event that commits late,
behind positions already replayed, is still picked up. The last step locks the log
against appends (SHARE mode waits for every appending transaction to commit), applies the
tail and swaps the tables in one transaction.
A rebuild that dies halfway leaves the live tables untouched.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import asyncpg

from trackledger.eventlog.events import decode_event
from trackledger.eventlog.postgres_tail import horizon
from trackledger.projections.postgres_apply import PostgresProjector
from trackledger.projections.replay_groups import replay_groups
from trackledger.projections.schema import PROJECTION_TABLES, projection_ddl

__all__ = ["SHADOW", "create_schema", "diff_tables", "rebuild", "verify"]

SHADOW = "__rebuild"
CHUNK = 20_000

Progress = Callable[[int, int], None]
Cursor = tuple[int, int]

_TAIL = (
    "SELECT txid::text::bigint AS txid, position, payload FROM events "
    "WHERE (txid, position) > ($1::text::xid8, $2) {horizon}"
    "ORDER BY txid, position LIMIT $3"
)
_BELOW = "AND txid < $4::text::xid8 "


async def generation(conn: asyncpg.Connection) -> int:
    value = await conn.fetchval("SELECT value FROM meta WHERE key = 'projection_generation'")
    return int(value) if value is not None else 0


async def create_schema(conn: asyncpg.Connection) -> None:
    """Create missing projection tables with the live generation's index names."""
    for ddl in projection_ddl("postgres", "", await generation(conn)):
        await conn.execute(ddl)


async def drop_shadow(conn: asyncpg.Connection) -> None:
    for table in PROJECTION_TABLES:
        await conn.execute(f"DROP TABLE IF EXISTS {table}{SHADOW}")


async def start_shadow(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await drop_shadow(conn)
        for ddl in projection_ddl("postgres", SHADOW, await generation(conn) + 1):
            await conn.execute(ddl)


async def _chunk(
    conn: asyncpg.Connection, after: Cursor, *, below: int | None, limit: int = CHUNK
) -> tuple[int, Cursor]:
    """Apply up to ``limit`` events after ``after`` (below the txid ``below``, if given)."""
    projector = PostgresProjector(SHADOW)
    if below is None:
        rows = await conn.fetch(_TAIL.format(horizon=""), str(after[0]), after[1], limit)
    else:
        sql = _TAIL.format(horizon=_BELOW)
        rows = await conn.fetch(sql, str(after[0]), after[1], limit, str(below))
    positioned = ((decode_event(bytes(row["payload"])), row["position"]) for row in rows)
    for group in replay_groups(positioned):
        await projector.apply_many(conn, group)
    if not rows:
        return 0, after
    return len(rows), (rows[-1]["txid"], rows[-1]["position"])


async def _replay(conn: asyncpg.Connection, progress: Progress | None, chunk: int) -> Cursor:
    await start_shadow(conn)
    done, cursor = 0, (0, 0)
    while True:
        # The horizon of this store's appenders, outside the chunk's transaction (see
        # postgres_tail.py): a transaction elsewhere on the server does not push the
        # replay into the locked catch-up.
        below = await horizon(conn, cursor)
        if below is None:
            return cursor
        async with conn.transaction():
            count, cursor = await _chunk(conn, cursor, below=below, limit=chunk)
        done += count
        if progress is not None:
            progress(done, cursor[1])
        if count < chunk:
            return cursor


async def _catch_up_locked(conn: asyncpg.Connection, cursor: Cursor) -> Cursor:
    """Inside a transaction: block appends, then apply everything after ``cursor``."""
    await conn.execute("LOCK TABLE events IN SHARE MODE")
    while True:
        count, cursor = await _chunk(conn, cursor, below=None)
        if count < CHUNK:
            return cursor


async def diff_tables(conn: asyncpg.Connection) -> dict[str, int]:
    out: dict[str, int] = {}
    for table in PROJECTION_TABLES:
        count = await conn.fetchval(
            # A changed row is missing on both sides: count the larger side, not the sum.
            f"SELECT GREATEST((SELECT COUNT(*) FROM (SELECT * FROM {table} EXCEPT "
            f"SELECT * FROM {table}{SHADOW}) a), (SELECT COUNT(*) FROM (SELECT * FROM "
            f"{table}{SHADOW} EXCEPT SELECT * FROM {table}) b))"
        )
        if count:
            out[table] = int(count)
    return out


async def rebuild(pool: asyncpg.Pool, progress: Progress | None = None, chunk: int = CHUNK) -> int:
    async with pool.acquire() as conn:
        cursor = await _replay(conn, progress, chunk)
        async with conn.transaction():
            cursor = await _catch_up_locked(conn, cursor)
            new_generation = await generation(conn) + 1
            for table in PROJECTION_TABLES:
                await conn.execute(f"DROP TABLE {table}")
                await conn.execute(f"ALTER TABLE {table}{SHADOW} RENAME TO {table}")
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('projection_generation', $1) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                str(new_generation),
            )
        return int(await conn.fetchval("SELECT COALESCE(MAX(position), 0) FROM events"))


async def verify(
    pool: asyncpg.Pool,
    progress: Progress | None = None,
    shuffle: random.Random | None = None,
    chunk: int = CHUNK,
) -> dict[str, int]:
    """Replay the log beside the live tables and report the tables that differ.

    With ``shuffle``, the events are applied in that random order instead, in one
    transaction (a check of order independence, for test-sized logs).
    """
    async with pool.acquire() as conn:
        if shuffle is None:
            cursor = await _replay(conn, progress, chunk)
        else:
            await start_shadow(conn)
        async with conn.transaction():
            if shuffle is None:
                await _catch_up_locked(conn, cursor)
            else:
                await conn.execute("LOCK TABLE events IN SHARE MODE")
                rows = await conn.fetch("SELECT position, payload FROM events")
                shuffle.shuffle(rows)
                projector = PostgresProjector(SHADOW)
                for row in rows:
                    await projector.apply(
                        conn, decode_event(bytes(row["payload"])), row["position"]
                    )
            differences = await diff_tables(conn)
            await drop_shadow(conn)
        return differences
