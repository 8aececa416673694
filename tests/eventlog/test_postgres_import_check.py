"""PostgreSQL: an import checks that the streams it creates are new by probing the stream
index for each, in the plan PostgreSQL caches for a statement it runs again and again
(a generic plan: the ids unknown), so its batches do not slow as the log grows."""

from __future__ import annotations

import asyncpg
import pytest

from trackledger.eventlog.errors import AlreadyExists
from trackledger.eventlog.events import RunCreated, run_stream
from trackledger.eventlog.postgres_store import _TAKEN_STREAM_SQL
from trackledger.eventlog.store import StoredEvent
from trackledger.services.backends import open_backend

#: Events in the log: enough for a read of the whole log to cost more than the probes.
LOGGED = 20_000


async def _fill_log(conn: asyncpg.Connection) -> None:
    """``LOGGED`` events of as many streams, written by SQL (no projection: only the log's
    size matters here), with no statistics yet: as during an import into a database whose
    autovacuum is off or has not come round (with them, either statement probes)."""
    await conn.execute(
        "INSERT INTO events (stream_id, type, recorded_at, payload) "
        "SELECT 'run/' || g, 'run.created', 0, '\\x00'::bytea "
        f"FROM generate_series(1, {LOGGED}) g"
    )


async def test_the_check_probes_the_stream_index_in_a_generic_plan(postgres_uri) -> None:
    backend = await open_backend(postgres_uri)
    conn = await asyncpg.connect(postgres_uri)
    try:
        await _fill_log(conn)
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE taken(text[]) AS {_TAKEN_STREAM_SQL}")
        plan = "\n".join(
            row[0] for row in await conn.fetch("EXPLAIN EXECUTE taken(ARRAY['a', 'b'])")
        )
        assert "Seq Scan on events" not in plan, plan
        assert "events_stream" in plan, plan
        # The same answers as a scan would give: the first taken stream, or none.
        taken = [run_stream("new-1"), run_stream("77"), run_stream("new-2")]
        assert await conn.fetchval(_TAKEN_STREAM_SQL, taken) == run_stream("77")
        assert await conn.fetchval(_TAKEN_STREAM_SQL, [run_stream("new-1")]) is None
    finally:
        await conn.close()
        await backend.close()


async def test_an_import_of_a_stream_the_log_holds_appends_nothing(postgres_uri) -> None:
    backend = await open_backend(postgres_uri)
    conn = await asyncpg.connect(postgres_uri)
    try:
        await _fill_log(conn)
        before = await conn.fetchval("SELECT count(*) FROM events")
        run = RunCreated(
            run_id="77", experiment_id="0", run_name="x", start_time=1, artifact_uri="/a"
        )
        event = StoredEvent(
            position=1,
            stream_id=run.stream,
            type="run.created",
            recorded_at=1,
            actor=None,
            idempotency_key=None,
            event=run,
        )
        with pytest.raises(AlreadyExists, match="run/77"):
            streams = [run_stream("new"), run.stream]
            await backend.store.append_imported([event], new_streams=streams)
        assert await conn.fetchval("SELECT count(*) FROM events") == before
    finally:
        await conn.close()
        await backend.close()
