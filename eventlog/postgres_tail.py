"""Who may still append to this store, and how far a tailing reader may therefore read.

Positions are drawn at INSERT and become visible at COMMIT, so a reader that tails the log
must stop below every transaction that might still add an event. ``txid <
pg_snapshot_xmin(pg_current_snapshot())`` does that, but its horizon is the oldest open
transaction of the whole PostgreSQL server: an idle transaction in another database, or in
another store's schema of this database, holds every feed back for as long as it stays
open. Only transactions that can still append to *this* store may hold its feed back, and
here they say so:

**The append lock.** Every transaction that may append to ``events`` takes a shared
transaction-level advisory lock keyed on that table (``APPEND_LOCK_CLASS`` and the
table's oid, so two stores in two schemas never share a key) *before it has a transaction
id*, i.e. before any write or row lock. ``appending(conn)`` sends it together with BEGIN
(one round trip, no more than a plain BEGIN). A trigger on ``events`` (migration
``LOG_V2``) enforces the rule for every writer, trackledger's or not: an INSERT in a
transaction that has not taken the lock takes it then if the transaction has no id yet
(an ad-hoc ``INSERT`` is thus safe), and is refused if it already has one (its xid may
lie below a horizon already handed out, and its events would be skipped).

**The horizon**, computed by one statement (``HORIZON``) with snapshot S1::

    H = least(xmax(S1), min{x in xip(S1) : x is the xid of a session holding the lock})

where xmax(S1) is S1's xmax (latestCompletedXid + 1; every xid from there on counts as
running) and xip(S1) its in-progress xids below that, both 64-bit. The holders come from
``pg_locks`` (any role may read every row), their xids from ``pg_stat_activity``'s
``backend_xid``: the xid a session's snapshot-visible entry carries from the moment it is
assigned (``pg_locks``' own transactionid rows appear a moment later, too late). It is 32
bits wide and matched against xip's low 32 bits, which is exact because in-progress xids
lie within 2^31 of each other. Events are then read by a *second* statement, with its own
later snapshot S2: ``txid < H``.

**Why no event below H can appear later.** Let W append events with top-level xid T < H.

- T < xmax(S1) = latestCompletedXid(S1) + 1, so T was assigned before S1 (xids are handed
  out in order, and a larger or equal one had already completed). At S1, W had therefore
  either ended (then it is committed or aborted for S2, which is taken later) or was in
  progress, and then T is in xip(S1).
- W took the lock before it had T, and keeps it until it ends. So while W runs after S1 it
  is a holder. The lock table (L) and the activity table (A) are each read once, both after
  S1 and in either order: if at L W holds the lock and at A W still has T, T is matched
  and H <= T, a contradiction. Otherwise W ended before L or before A: a transaction leaves
  the proc array (which clears the xid A shows, and makes it committed for new snapshots)
  before it releases its locks, so W is committed or aborted for S2.
- A session whose xid is assigned after S1 gets one >= xmax(S1) >= H; a holder without an
  xid yet (it took the lock, has not written) will get one after S1. Neither can add an
  event below H.
- A writer that commits between S1 and the second statement has T in xip(S1) and is a
  holder at L (then H <= T and its events wait for the next read) or already left (then
  S2 sees them): never half.

``pg_stat_activity`` is read once per transaction and then cached, so ``HORIZON`` must run
as its own (autocommit) transaction or as the first statement of one; every caller here
runs it outside a transaction block. Prepared (two-phase) transactions are not supported
appenders: their locks have no session, so they would not be seen as holders.

Transactions of this store that never append (a rebuild's shadow tables, reads, other
schemas) do not hold the feed back at all. ``HORIZON`` looks at the locks only when there
is a visible event after the reader's cursor, so an idle long poll costs one index probe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

__all__ = [
    "APPEND_LOCK_CLASS",
    "BEGIN_APPENDING",
    "HORIZON",
    "appending",
    "horizon",
]

#: The high 32 bits of the append lock's key (the low ones are the events table's oid).
#: pg_locks shows them as ``classid`` and ``objid`` with ``objsubid`` 1.
APPEND_LOCK_CLASS = 7_245_110

_KEY = f"(({APPEND_LOCK_CLASS}::bigint << 32) | 'events'::regclass::oid::bigint)"

#: BEGIN and the append lock in one simple-protocol round trip. The setting tells the
#: trigger on events that this transaction took the lock before it had an xid.
BEGIN_APPENDING = (
    f"BEGIN; SELECT pg_advisory_xact_lock_shared({_KEY}), "
    "set_config('trackledger.append_lock', 'events'::regclass::oid::text, true)"
)

#: $1, $2: the reader's cursor (txid as text, position). NULL when no visible event
#: follows the cursor; otherwise the txid (as bigint) below which the log is complete.
HORIZON = f"""
SELECT CASE WHEN EXISTS (
    SELECT 1 FROM events WHERE (txid, position) > ($1::text::xid8, $2)
) THEN (
    WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
    holders AS MATERIALIZED (
        SELECT pid FROM pg_locks
        WHERE locktype = 'advisory'
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = {APPEND_LOCK_CLASS}::oid
          AND objid = 'events'::regclass::oid
          AND objsubid = 1
    ),
    xids AS (
        SELECT a.backend_xid::text::bigint AS x
        FROM pg_stat_activity a JOIN holders h ON h.pid = a.pid
        WHERE a.backend_xid IS NOT NULL
    )
    SELECT least(
        pg_snapshot_xmax(s),
        (SELECT min(t) FROM pg_snapshot_xip(s) AS t
         WHERE t::text::bigint % 4294967296 IN (SELECT x FROM xids))
    )::text::bigint
    FROM snap
) END
"""


async def horizon(conn: asyncpg.Connection, after: tuple[int, int]) -> int | None:
    """The txid below which every event after the cursor ``after`` is visible now and no
    other can appear; None when nothing visible follows ``after``. Run it outside a
    transaction block, and read with a later statement (see the module docstring)."""
    value = await conn.fetchval(HORIZON, str(after[0]), after[1])
    return None if value is None else int(value)


@asynccontextmanager
async def appending(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """A transaction that may append to the store: BEGIN with the append lock taken first,
    COMMIT on success, ROLLBACK on error. Nested blocks use plain SAVEPOINT statements
    (asyncpg's ``conn.transaction()`` refuses to nest in a transaction it did not start)."""
    try:
        await conn.execute(BEGIN_APPENDING)
        yield
    except BaseException:
        if not conn.is_closed():
            try:
                await conn.execute("ROLLBACK")
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                pass  # the pool resets or discards the connection on release
        raise
    await conn.execute("COMMIT")
