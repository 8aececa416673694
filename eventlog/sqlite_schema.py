"""The log's own tables on SQLite: events, idempotency keys, id counters, meta.

These are migration 1's statements (``services/migrations.py``); later changes are new
migrations, never edits here."""

from __future__ import annotations

__all__ = ["LOG_DDL"]

LOG_DDL = [
    # AUTOINCREMENT: a position is never handed out twice, even after a purge removed the
    # newest events. With one writer, position order is commit order.
    """CREATE TABLE IF NOT EXISTS events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id TEXT NOT NULL,
        type TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        actor TEXT,
        idempotency_key TEXT,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS events_stream ON events (stream_id, position)",
    # Append-only: events are never rewritten. Only a purge may delete, and it opens a
    # permit row inside its own transaction to do so.
    "CREATE TABLE IF NOT EXISTS purge_permit (id INTEGER PRIMARY KEY)",
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
        WHEN NOT EXISTS (SELECT 1 FROM purge_permit)
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TABLE IF NOT EXISTS idempotency (
        key TEXT PRIMARY KEY,
        request_hash BLOB NOT NULL,
        result BLOB NOT NULL,
        created_at INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
]
