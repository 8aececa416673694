"""Rebuild the read model from the log, or verify it against a replay, on SQLite.

A rebuild replays the log into shadow tables in chunks; each chunk is its own job on the
writer queue, so appends interleave and readers keep reading the live tables. The last job
applies the tail that arrived meanwhile and swaps the shadow tables in, all in one
transaction: readers see the old tables or the new ones, never a mix. A rebuild that dies
halfway leaves the live tables untouched; the next one starts from a fresh shadow.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sqlite3
from collections.abc import Callable

from trackledger.eventlog.events import decode_event
from trackledger.eventlog.sqlite_writer import GroupCommitWriter
from trackledger.projections.replay_groups import replay_groups
from trackledger.projections.schema import PROJECTION_TABLES, projection_ddl
from trackledger.projections.sqlite_apply import SQLiteProjector

__all__ = [
    "SHADOW",
    "create_schema",
    "diff_tables",
    "rebuild",
    "verify",
]

SHADOW = "__rebuild"
CHUNK = 20_000

#: Called after each chunk with (events replayed so far, last position replayed).
Progress = Callable[[int, int], None]


def generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'projection_generation'").fetchone()
    return int(row[0]) if row else 0


def create_schema(conn: sqlite3.Connection) -> None:
    """Create missing projection tables with the live generation's index names."""
    for ddl in projection_ddl("sqlite", "", generation(conn)):
        conn.execute(ddl)


def drop_shadow(conn: sqlite3.Connection) -> None:
    for table in PROJECTION_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}{SHADOW}")


def start_shadow(conn: sqlite3.Connection) -> None:
    drop_shadow(conn)
    for ddl in projection_ddl("sqlite", SHADOW, generation(conn) + 1):
        conn.execute(ddl)


#: Where a replay stands: events up to ``upto`` are replayed stream by stream, and the
#: stream-ordered part has reached (stream, position).
Cursor = tuple[str, int]


def replay_chunk(conn: sqlite3.Connection, after: int, limit: int = CHUNK) -> tuple[int, int]:
    """Apply up to ``limit`` events after position ``after`` to the shadow tables.

    Returns (events applied, last position applied).
    """
    projector = SQLiteProjector(SHADOW)
    rows = conn.execute(
        "SELECT position, payload FROM events WHERE position > ? ORDER BY position LIMIT ?",
        (after, limit),
    ).fetchall()
    for group in replay_groups((decode_event(payload), position) for position, payload in rows):
        projector.apply_many(conn, group)
    return len(rows), (rows[-1][0] if rows else after)


def replay_streams_chunk(
    conn: sqlite3.Connection, upto: int, after: Cursor, limit: int = CHUNK
) -> tuple[int, Cursor]:
    """Apply up to ``limit`` events at or below position ``upto``, stream by stream.

    Merges do not depend on order, and a run's rows arriving together keep the inserts into
    its history local in the B-tree, which is much faster than the log's interleaving.
    """
    projector = SQLiteProjector(SHADOW)
    rows = conn.execute(
        "SELECT stream_id, position, payload FROM events WHERE (stream_id, position) > (?, ?) "
        "AND position <= ? ORDER BY stream_id, position LIMIT ?",
        (after[0], after[1], upto, limit),
    ).fetchall()
    positioned = ((decode_event(payload), position) for _, position, payload in rows)
    for group in replay_groups(positioned):
        projector.apply_many(conn, group)
    return len(rows), ((rows[-1][0], rows[-1][1]) if rows else after)


def _catch_up(conn: sqlite3.Connection, after: int, chunk: int = CHUNK) -> int:
    while True:
        count, after = replay_chunk(conn, after, chunk)
        if count < chunk:
            return after


def swap(conn: sqlite3.Connection) -> None:
    """Replace the live tables with the shadow ones (inside the caller's transaction)."""
    new_generation = generation(conn) + 1
    for table in PROJECTION_TABLES:
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}{SHADOW} RENAME TO {table}")
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('projection_generation', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(new_generation),),
    )


def diff_tables(conn: sqlite3.Connection, suffix: str = SHADOW) -> dict[str, int]:
    """For each projection table, how many rows differ between live and ``suffix`` copies."""
    out: dict[str, int] = {}
    for table in PROJECTION_TABLES:
        (count,) = conn.execute(
            # A changed row is missing on both sides: count the larger side, not the sum.
            f"SELECT MAX((SELECT COUNT(*) FROM (SELECT * FROM {table} EXCEPT "
            f"SELECT * FROM {table}{suffix})), (SELECT COUNT(*) FROM (SELECT * FROM "
            f"{table}{suffix} EXCEPT SELECT * FROM {table})))"
        ).fetchone()
        if count:
            out[table] = count
    return out


async def _replay(writer: GroupCommitWriter, progress: Progress | None, chunk: int) -> int:
    """Replay everything up to the log's current end, stream by stream; return that end
    (the caller catches up on what was appended since, in position order)."""

    def begin(conn: sqlite3.Connection) -> int:
        start_shadow(conn)
        (end,) = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
        return int(end)

    upto = await writer.submit(begin)
    done, cursor = 0, ("", 0)
    while True:
        job = functools.partial(replay_streams_chunk, upto=upto, after=cursor, limit=chunk)
        count, cursor = await writer.submit(job)
        done += count
        if progress is not None:
            progress(done, cursor[1])
        if count < chunk:
            return upto


async def rebuild(
    writer: GroupCommitWriter, progress: Progress | None = None, chunk: int = CHUNK
) -> int:
    """Rebuild every projection from the log and swap it in; return the last position.
    Each transaction replays at most ``chunk`` events, so appends wait at most that long."""
    last = await _replay(writer, progress, chunk)

    def finish(conn: sqlite3.Connection) -> int:
        position = _catch_up(conn, last)
        swap(conn)
        return position

    return await writer.submit(finish)


async def verify(
    writer: GroupCommitWriter,
    progress: Progress | None = None,
    shuffle: random.Random | None = None,
    chunk: int = CHUNK,
) -> dict[str, int]:
    """Replay the log beside the live tables and report the tables that differ.

    The replay runs on a connection of its own, in one read transaction, into TEMP tables
    that SQLite keeps in a file in the temporary directory: it sees one consistent snapshot
    of the log and the tables, never blocks the writer, and needs no space on the store's
    own disk (so it works on a store whose disk is full). With ``shuffle``, the events are
    applied in that random order (a check of order independence, for test-sized logs).
    """
    return await asyncio.to_thread(_verify_snapshot, writer.path, progress, shuffle, chunk)


#: Suffix and index generation of verify's TEMP tables (names apart from live and shadow).
VERIFY = "__verify"
_VERIFY_GENERATION = 999_999


def _verify_snapshot(
    path: str, progress: Progress | None, shuffle: random.Random | None, chunk: int
) -> dict[str, int]:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA temp_store=FILE")
        conn.execute("BEGIN")
        conn.execute("SELECT 1 FROM events LIMIT 1").fetchall()  # the snapshot starts here
        for ddl in projection_ddl("sqlite", VERIFY, _VERIFY_GENERATION):
            conn.execute(ddl.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
        projector = SQLiteProjector(VERIFY)
        if shuffle is not None:
            rows = conn.execute("SELECT position, payload FROM events").fetchall()
            shuffle.shuffle(rows)
            for position, payload in rows:
                projector.apply(conn, decode_event(payload), position)
        else:
            done, after = 0, 0
            while rows := conn.execute(
                "SELECT position, payload FROM events WHERE position > ? ORDER BY position "
                "LIMIT ?",
                (after, chunk),
            ).fetchall():
                for position, payload in rows:
                    projector.apply(conn, decode_event(payload), position)
                done, after = done + len(rows), rows[-1][0]
                if progress is not None:
                    progress(done, after)
        differences = diff_tables(conn, VERIFY)
        conn.execute("ROLLBACK")
        return differences
    finally:
        conn.close()
