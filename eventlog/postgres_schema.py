"""The log's tables on PostgreSQL, created and upgraded by numbered migrations.

These are migration 1's statements; the runner and later migrations are in
``services/migrations.py``. Applied migrations never change.
"""

from __future__ import annotations

from trackledger.eventlog.postgres_tail import APPEND_LOCK_CLASS

__all__ = ["LOG_V1", "LOG_V2", "MIGRATION_LOCK"]

MIGRATION_LOCK = 7_245_110_001  # pg_advisory_xact_lock key for schema changes

LOG_V1 = [
    # position: the global id, handed out at INSERT. Rows become visible at COMMIT, so
    # positions can commit out of order; txid (the writing transaction) lets a tailing
    # reader wait for every transaction that might still add rows below its horizon
    # (reference/event-sourcing-design.md section 1.6).
    """CREATE TABLE events (
        position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        stream_id TEXT NOT NULL,
        type TEXT NOT NULL,
        recorded_at BIGINT NOT NULL,
        actor TEXT,
        idempotency_key TEXT,
        payload BYTEA NOT NULL
    )""",
    "CREATE INDEX events_stream ON events (stream_id, position)",
    "CREATE INDEX events_tail ON events (txid, position)",
    # Append-only: no UPDATE ever; DELETE only inside a purge, which sets
    # trackledger.purge for its own transaction.
    """CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('trackledger.purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'events are append-only';
    END $$""",
    """CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
        FOR EACH ROW EXECUTE FUNCTION events_append_only()""",
    """CREATE TABLE idempotency (
        key TEXT PRIMARY KEY,
        request_hash BYTEA NOT NULL,
        result BYTEA NOT NULL,
        created_at BIGINT NOT NULL
    )""",
    "CREATE SEQUENCE experiment_ids START 1",
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
]

LOG_V2 = [
    # Only transactions that may append to this store hold its feed back
    # (postgres_tail.py): each takes the append lock before it has a transaction id. This
    # trigger holds every writer to that: an INSERT whose transaction has not taken the
    # lock takes it now if the transaction has no id yet, and is refused otherwise.
    f"""CREATE FUNCTION events_append_lock() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('trackledger.append_lock', true) IS DISTINCT FROM TG_RELID::text
        THEN
            IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
                RAISE EXCEPTION 'take the append lock before writing (postgres_tail.py)'
                    USING DETAIL = 'This transaction wrote or locked rows before appending.';
            END IF;
            PERFORM pg_advisory_xact_lock_shared(
                ({APPEND_LOCK_CLASS}::bigint << 32) | TG_RELID::bigint);
            PERFORM set_config('trackledger.append_lock', TG_RELID::text, true);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER events_append_lock BEFORE INSERT ON events
        FOR EACH STATEMENT EXECUTE FUNCTION events_append_lock()""",
]
