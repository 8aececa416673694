"""PostgreSQL: a tailing reader never skips an event whose transaction commits late."""

from __future__ import annotations

import asyncpg

from trackledger.eventlog.commands import SetExperimentTag
from trackledger.eventlog.events import ExperimentTagSet, encode_event
from trackledger.services.backends import open_backend


async def test_an_event_that_commits_late_is_delivered(postgres_uri):
    backend = await open_backend(postgres_uri)
    slow = await asyncpg.connect(postgres_uri)
    try:
        cursor = (await backend.store.read_all())[-1].cursor
        # A: a write transaction that appended an event and has not committed yet.
        late = slow.transaction()
        await late.start()
        event = ExperimentTagSet(experiment_id="0", key="late", value="1")
        await slow.execute(
            "INSERT INTO events (stream_id, type, recorded_at, payload) VALUES ($1, $2, 0, $3)",
            event.stream,
            "experiment.tagged",
            encode_event(event),
        )
        # B: a later command commits first.
        await backend.store.execute(SetExperimentTag(experiment_id="0", key="early", value="2"))
        # Check B is held back while A might still add an event before it.
        assert await backend.store.read_all(after=cursor) == []
        await late.commit()
        delivered = await backend.store.read_all(after=cursor)
        assert [e.event.key for e in delivered] == ["late", "early"]  # type: ignore[union-attr]
        # Check the cursors rise strictly, so a reader resuming from any of them skips nothing.
        keys = [tuple(map(int, e.cursor.split("."))) for e in delivered]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert await backend.store.read_all(after=delivered[-1].cursor) == []
    finally:
        await slow.close()
        await backend.close()


async def test_sqlite_cursor_is_the_position(tmp_path):
    backend = await open_backend(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await backend.store.execute(SetExperimentTag(experiment_id="0", key="k", value="v"))
        events = await backend.store.read_all()
        assert [e.cursor for e in events] == [str(e.position) for e in events]
        assert [e.position for e in await backend.store.read_all(after=events[0].cursor)] == [
            events[1].position
        ]
    finally:
        await backend.close()
