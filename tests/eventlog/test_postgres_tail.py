"""PostgreSQL: a tailing reader never skips an event whose transaction commits late, and
waits only for transactions that may still append to its own store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.conftest import POSTGRES
from trackledger.api.app import create_app
from trackledger.eventlog.commands import SetExperimentTag
from trackledger.eventlog.events import ExperimentTagSet, encode_event
from trackledger.eventlog.postgres_tail import appending
from trackledger.services.backends import Backend, open_backend


@pytest.mark.parametrize("first", ["append", "write"])
async def test_an_event_that_commits_late_is_delivered(postgres_uri, first):
    backend = await open_backend(postgres_uri)
    slow = await asyncpg.connect(postgres_uri)
    try:
        cursor = (await backend.store.read_all())[-1].cursor
        # A: a write transaction with an xid that has not committed yet. Either an ad-hoc
        # INSERT (the trigger on events takes the append lock), or, as commands do, the
        # append lock at BEGIN, then other writes or row locks, and the append only later.
        if first == "append":
            plain = slow.transaction()
            await plain.start()
            await _append_raw(slow, "late")
            commit = plain.commit
        else:
            store_like = appending(slow)
            await store_like.__aenter__()
            await slow.execute("INSERT INTO meta (key, value) VALUES ('probe', '1')")

            async def commit() -> None:
                await _append_raw(slow, "late")
                await store_like.__aexit__(None, None, None)

        assert await slow.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
        # B: a later command commits first.
        await backend.store.execute(SetExperimentTag(experiment_id="0", key="early", value="2"))
        # Check B is held back while A might still add an event before it.
        assert await backend.store.read_all(after=cursor) == []
        await commit()
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


async def _append_raw(conn: asyncpg.Connection, key: str) -> None:
    event = ExperimentTagSet(experiment_id="0", key=key, value="1")
    await conn.execute(
        "INSERT INTO events (stream_id, type, recorded_at, payload) VALUES ($1, $2, 0, $3)",
        event.stream,
        "experiment.tagged",
        encode_event(event),
    )


async def _feed(backend: Backend, after: str) -> list[str]:
    """The keys of the experiment tags GET /events delivers after ``after``, at once."""
    app = create_app(None)  # type: ignore[arg-type]
    app.state.backend = backend
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = (await c.get("/api/2.0/trackledger/events", params={"after": after})).json()
    return [e["data"]["key"] for e in body.get("events", [])]


@pytest.fixture
async def other_store(postgres_database: str) -> AsyncIterator[str]:
    """A second store, in another schema of the same database."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_database)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        uri = f"{postgres_database}?search_path={schema}"
        await (await open_backend(uri)).close()  # its tables, with an event
        yield uri
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def _open_transaction(uri: str, *, append: bool) -> tuple[asyncpg.Connection, object]:
    """A connection holding a transaction open with an xid (and an event, with ``append``)."""
    conn = await asyncpg.connect(uri)
    transaction = conn.transaction()
    await transaction.start()
    if append:
        await _append_raw(conn, "elsewhere")
    else:
        await conn.fetchval("SELECT pg_current_xact_id()")
    return conn, transaction


@pytest.mark.parametrize("where", ["other database", "other schema"])
async def test_transactions_elsewhere_do_not_hold_the_feed_back(postgres_uri, other_store, where):
    backend = await open_backend(postgres_uri)
    if where == "other database":
        idle, _ = await _open_transaction(f"{POSTGRES}/postgres", append=False)
    else:  # another store's writer, stopped halfway
        idle, _ = await _open_transaction(other_store, append=True)
    try:
        cursor = (await backend.store.read_all())[-1].cursor
        await backend.store.execute(SetExperimentTag(experiment_id="0", key="news", value="1"))
        # Check the event is delivered at once, while the other transaction stays open.
        delivered = await backend.store.read_all(after=cursor)
        assert [e.event.key for e in delivered] == ["news"]  # type: ignore[union-attr]
        assert await _feed(backend, cursor) == ["news"]
        assert await idle.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
    finally:
        await idle.close()
        await backend.close()


async def test_a_transaction_of_this_store_that_cannot_append_holds_nothing_back(postgres_uri):
    backend = await open_backend(postgres_uri)
    # A transaction of this store with an xid that did not take the append lock (as a
    # rebuild's shadow tables or a maintenance script): it may not append any more.
    idle, _ = await _open_transaction(postgres_uri, append=False)
    try:
        await idle.execute("INSERT INTO meta (key, value) VALUES ('probe', '1')")
        cursor = (await backend.store.read_all())[-1].cursor
        await backend.store.execute(SetExperimentTag(experiment_id="0", key="news", value="1"))
        assert [e.event.key for e in await backend.store.read_all(after=cursor)] == ["news"]  # type: ignore[union-attr]
        # Check it is refused if it tries: its event could land behind the cursor above.
        with pytest.raises(asyncpg.RaiseError, match="append lock"):
            await _append_raw(idle, "too late")
    finally:
        await idle.close()
        await backend.close()


async def test_a_store_of_the_previous_schema_opens_with_the_append_lock(postgres_uri, monkeypatch):
    from trackledger.services import migrations

    with monkeypatch.context() as before:
        before.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        before.setattr(migrations, "LATEST", 1)
        await (await open_backend(postgres_uri)).close()
    backend = await open_backend(postgres_uri)
    conn = await asyncpg.connect(postgres_uri)
    try:
        versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [v[0] for v in versions] == list(range(1, migrations.LATEST + 1))
        cursor = (await backend.store.read_all())[-1].cursor
        await backend.store.execute(SetExperimentTag(experiment_id="0", key="k", value="v"))
        assert [e.event.key for e in await backend.store.read_all(after=cursor)] == ["k"]  # type: ignore[union-attr]
        async with conn.transaction():
            await conn.execute("INSERT INTO meta (key, value) VALUES ('probe', '1')")
            with pytest.raises(asyncpg.RaiseError, match="append lock"):
                await _append_raw(conn, "unlocked")
    finally:
        await conn.close()
        await backend.close()
