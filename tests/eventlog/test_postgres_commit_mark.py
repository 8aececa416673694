"""PostgreSQL: the commit mark (``PgFetchAll.commit_mark``) moves with every commit that
wrote, in whatever order transactions commit, so a count kept under a mark is never read
after a write it did not see."""

from __future__ import annotations

import asyncpg

from trackledger.eventlog.postgres_sql import PgFetchAll


async def test_every_commit_that_wrote_moves_the_mark(postgres_uri: str) -> None:
    pool = await asyncpg.create_pool(postgres_uri, min_size=1, max_size=2)
    early = await asyncpg.connect(postgres_uri)
    late = await asyncpg.connect(postgres_uri)
    try:
        marks = PgFetchAll(pool)
        await early.execute("CREATE TABLE marked (n int)")
        # A: a write transaction with an xid, open before the mark is read.
        a = early.transaction()
        await a.start()
        await early.execute("INSERT INTO marked VALUES (1)")
        before_b = await marks.commit_mark()
        # B: begun and committed after the mark (a later xid).
        await late.execute("INSERT INTO marked VALUES (2)")
        after_b = await marks.commit_mark()
        assert after_b != before_b
        # A commits after B, with the earlier xid: the mark moves again.
        await a.commit()
        after_a = await marks.commit_mark()
        assert after_a not in (before_b, after_b)
    finally:
        await early.close()
        await late.close()
        await pool.close()
