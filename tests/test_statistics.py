"""Planner statistics: PostgreSQL tables are analyzed once they changed enough (when
autovacuum would not do it); SQLite's planner runs without them."""

from __future__ import annotations

import asyncio
import time

import pytest

from trackledger.eventlog import commands as c
from trackledger.services.backends import open_backend

# Their tables' statistics must be a new store's: none yet.
pytestmark = pytest.mark.fresh_schema


async def test_changed_tables_are_analyzed(backend, store_uri) -> None:
    # Written through another backend: closing its connections reports their changes to
    # the statistics system at once (an idle connection reports within 10 s).
    writer = await open_backend(store_uri)
    try:
        await asyncio.gather(*(writer.store.execute(c.CreateRun(start_time=i)) for i in range(300)))
    finally:
        await writer.close()
    if backend.kind == "postgres":
        await _inserts_reported(backend, "runs", 300)
    analyzed = await backend.refresh_statistics()
    if backend.kind == "sqlite":
        assert analyzed == []
        return
    async with backend.pool.acquire() as conn:
        if await conn.fetchval("SELECT current_setting('autovacuum')") == "on":
            assert analyzed == []
            return
        assert {"events", "runs", "run_tags"} <= set(analyzed)
        estimate = await conn.fetchval(
            "SELECT reltuples FROM pg_class WHERE oid = 'runs'::regclass"
        )
        assert estimate == 300
    # Nothing changed since: nothing to analyze.
    assert await backend.refresh_statistics() == []


async def _inserts_reported(backend, table: str, rows: int) -> None:
    """Wait until the statistics system counts ``rows`` inserts into ``table``. A closed
    connection reports its changes as its server process exits, which a loaded machine can
    delay past any fixed pause; the writes to every table of the test went through the
    same connections in the same transactions, so they are reported together."""
    deadline = time.monotonic() + 60
    async with backend.pool.acquire() as conn:
        while True:
            inserted = await conn.fetchval(
                "SELECT n_tup_ins FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname = $1",
                table,
            )
            if inserted is not None and inserted >= rows:
                return
            assert time.monotonic() < deadline, f"{table}: {inserted} inserts reported"
            await asyncio.sleep(0.1)


async def test_tables_past_the_insert_threshold_are_vacuumed(backend, store_uri) -> None:
    """With autovacuum off, a table that took more inserted rows than its threshold (1,000
    and a fifth of its rows) is vacuumed, so its index-only scans stop reading its rows."""
    if backend.kind != "postgres":
        return
    async with backend.pool.acquire() as conn:
        if await conn.fetchval("SELECT current_setting('autovacuum')") == "on":
            return
    writer = await open_backend(store_uri)
    try:
        await asyncio.gather(
            *(writer.store.execute(c.CreateRun(start_time=i)) for i in range(1600))
        )
    finally:
        await writer.close()
    await _inserts_reported(backend, "runs", 1600)
    assert "runs" in await backend.refresh_statistics()
    async with backend.pool.acquire() as conn:
        vacuumed = await conn.fetchval(
            "SELECT last_vacuum FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() AND relname = 'runs'"
        )
    assert vacuumed is not None


async def test_read_connections_return_to_the_pool_without_a_reset_round_trip(backend) -> None:
    """The read pool's connections run single statements and change nothing in their
    session: released, they send no reset query (asyncpg's default costs a round trip
    after every statement of a search)."""
    if backend.kind != "postgres":
        return  # SQLite readers are not pooled connections
    sent: list[str] = []
    async with backend.read_pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
        await conn.fetch("SELECT 1")
    assert sent == ["SELECT 1"]
    page = await backend.reads.search_runs(
        experiment_ids=[0],
        filter_text="params.p = 'x'",
        order_by=[],
        view_type="ACTIVE_ONLY",
        max_results=10,
        offset=0,
    )
    assert page.items == []
