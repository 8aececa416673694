"""A store written by the previous release opens with today's code: upgraded in place,
nothing lost, every read answer unchanged, and verify clean (both backends).

The stores and answers in previous_release/ were made by make_previous_release.py with the
release before numbered SQLite migrations."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _admin
from tests.upgrade.make_previous_release import SCHEMA, answers
from trackledger.api.app import create_app
from trackledger.eventlog import commands as c
from trackledger.eventlog.results import CreatedRun, ExperimentId
from trackledger.projections.schema import PROBED_COLUMNS
from trackledger.services import migrations
from trackledger.services.backends import Backend, open_backend
from trackledger.services.migrations import LATEST, Migration, NewerStore

FIXTURES = Path(__file__).parent / "previous_release"


@pytest.fixture
def sqlite_copy(tmp_path: Path) -> str:
    shutil.copy(FIXTURES / "store.sqlite", tmp_path / "store.db")
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_copy(postgres_database: str) -> Iterator[str]:
    schema = f"t_up_{uuid.uuid4().hex[:12]}"
    dump = (FIXTURES / "postgres.sql").read_text().replace(SCHEMA, schema)
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", postgres_database],
        input=dump,
        text=True,
        check=True,
        capture_output=True,
    )
    try:
        yield f"{postgres_database}?search_path={schema}"
    finally:
        asyncio.run(_admin(postgres_database, f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def previous_store(request: pytest.FixtureRequest) -> tuple[str, str]:
    fixture = "sqlite_copy" if request.param == "sqlite" else "postgres_copy"
    uri: str = request.getfixturevalue(fixture)
    return request.param, uri


@pytest.fixture
async def upgraded(previous_store: tuple[str, str]) -> AsyncIterator[Backend]:
    backend = await open_backend(previous_store[1])
    try:
        yield backend
    finally:
        await backend.close()


async def _answers(backend: Backend) -> dict[str, Any]:
    async def given() -> Backend:
        return backend

    app = create_app(given)
    app.state.backend = backend
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upgrade") as client:
        return await answers(client)


@pytest.mark.timeout(180)
async def test_previous_release_store_upgrades_with_unchanged_answers(
    previous_store: tuple[str, str], upgraded: Backend
) -> None:
    expected = json.loads((FIXTURES / f"answers-{previous_store[0]}.json").read_text())
    assert await _answers(upgraded) == expected
    assert await upgraded.verify() == {}


async def test_upgrade_applies_nothing_twice(previous_store: tuple[str, str]) -> None:
    first = await open_backend(previous_store[1])
    await first.close()
    again = await open_backend(previous_store[1])
    try:
        assert again.upgraded == []
    finally:
        await again.close()


async def test_a_fresh_store_applies_every_migration(store_uri: str) -> None:
    backend = await open_backend(store_uri)
    try:
        assert [m.version for m in backend.upgraded] == list(range(1, LATEST + 1))
    finally:
        await backend.close()


async def test_concurrent_openings_apply_each_migration_once(postgres_uri: str) -> None:
    """Server processes starting together on PostgreSQL (SQLite has one server process)."""
    opened = await asyncio.gather(*(open_backend(postgres_uri) for _ in range(4)))
    try:
        applied = sorted(m.version for b in opened for m in b.upgraded)
        assert applied == list(range(1, LATEST + 1))
    finally:
        for backend in opened:
            await backend.close()


async def _record_newer_version(backend: Backend, version: int) -> None:
    if backend.kind == "sqlite":
        await backend.writer.submit(  # type: ignore[attr-defined]
            lambda conn: conn.execute(
                "INSERT INTO schema_migrations (version, summary, applied_at) VALUES (?, 'x', 0)",
                (version,),
            )
        )
    else:
        async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)


async def test_a_store_from_a_newer_trackledger_is_refused(store_uri: str) -> None:
    backend = await open_backend(store_uri)
    await _record_newer_version(backend, LATEST + 1)
    await backend.close()
    with pytest.raises(NewerStore, match=r"newer trackledger \(schema version \d+"):
        await open_backend(store_uri)


async def test_a_rebuild_migration_rebuilds_the_projections_from_the_log(
    previous_store: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A projection table that changes shape goes "drop + rebuild from the log"."""
    reshape = Migration(
        version=LATEST + 1,
        summary="params change shape",
        sqlite=("DROP TABLE params",),
        postgres=("DROP TABLE params",),
        rebuild=True,
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, reshape))
    monkeypatch.setattr(migrations, "LATEST", LATEST + 1)
    backend = await open_backend(previous_store[1])
    try:
        # The previous release had migration 1 only.
        assert [m.version for m in backend.upgraded] == list(range(2, LATEST + 2))
        expected = json.loads((FIXTURES / f"answers-{previous_store[0]}.json").read_text())
        assert await _answers(backend) == expected
        assert await backend.verify() == {}
        assert await backend.finish_upgrade() is False  # done once, flag cleared
    finally:
        await backend.close()


async def _seed_values(backend: Backend) -> str:
    """Six runs with a param, a tag and a metric each; the experiment's id."""
    made = await backend.store.execute(c.CreateExperiment(name="values"))
    assert isinstance(made, ExperimentId)
    for i in range(6):
        run = await backend.store.execute(
            c.CreateRun(experiment_id=made.experiment_id, run_name=f"run-{i}", start_time=i)
        )
        assert isinstance(run, CreatedRun)
        batch = c.LogBatch(
            run_id=run.event.run_id,
            params=[c.ParamIn("p", f"v{i % 3}")],
            tags=[c.TagIn("t", f"x{i}")],
            metrics=[c.MetricIn("m", i / 10, 1, 0)],
        )
        await backend.store.execute(batch)
    return made.experiment_id


async def _value_searches(backend: Backend, exp: str) -> list[list[str]]:
    found = []
    filters = ("params.p = 'v1'", "tags.t LIKE 'x%'", "tags.t ILIKE 'X1'", "params.p > 'v'")
    for filter_ in (*filters, "metrics.m >= 0.2 AND params.p != 'v2'"):
        page = await backend.reads.search_runs(
            experiment_ids=[int(exp)],
            filter_text=filter_,
            order_by=["params.p DESC"],
            view_type="ACTIVE_ONLY",
            max_results=100,
            offset=0,
        )
        found.append([run.info.run_name or "" for run in page.items])  # type: ignore[attr-defined]
    return found


async def test_migration_10_indexes_a_column_of_the_values_first_characters(
    postgres_uri: str,
) -> None:
    """A PostgreSQL store at schema version 9 indexed an expression of param and tag
    values; migration 10 stores their first characters as a column and indexes that,
    dropping the old index. The searches answer the same."""
    backend = await open_backend(postgres_uri)
    try:
        exp = await _seed_values(backend)
        before = await _value_searches(backend, exp)
        async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
            for table in ("params", "run_tags"):  # the index goes with the column
                await conn.execute(f"ALTER TABLE {table} DROP COLUMN value_prefix")
                await conn.execute(
                    f"CREATE INDEX {table}_key_prefix_g0 ON {table} "
                    '(key, left(value, 256) COLLATE "C")'
                )
            await conn.execute("DELETE FROM schema_migrations WHERE version = 10")
    finally:
        await backend.close()
    again = await open_backend(postgres_uri)
    try:
        assert [m.version for m in again.upgraded] == [10]
        async with again.pool.acquire() as conn:  # type: ignore[attr-defined]
            indexes = {
                row[0]
                for row in await conn.fetch(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename IN ('params', 'run_tags')"
                )
            }
            stored = await conn.fetchval(
                "SELECT count(*) FROM run_tags WHERE value_prefix = left(value, 256)"
            )
            # Vacuumed after the rewrite, so that counts of the index need no heap page
            # (whether the vacuum could mark the pages all-visible depends on the other
            # transactions of the database at that moment: the other tests' too).
            visible = await conn.fetchval(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'run_tags'::regclass"
            )
        assert not any("_key_prefix_" in name for name in indexes), indexes
        assert {"params_key_head_g0", "run_tags_key_head_g0"} <= indexes, indexes
        assert stored >= 6 and visible > 0
        assert await _value_searches(again, exp) == before
        assert before[0] == ["run-4", "run-1"] and before[2] == ["run-1"]
        assert await again.verify() == {}
    finally:
        await again.close()


async def test_migration_11_makes_the_key_run_indexes_cover_a_search_probe(
    postgres_uri: str,
) -> None:
    """A PostgreSQL store at schema version 10 indexed params and tags by (key, run) alone
    and latest metrics by their primary key; migration 11 rebuilds the first two to carry
    the columns a search's comparisons read and adds one for the metrics, so that probing
    a run's keys reads no table row. The searches answer the same."""
    backend = await open_backend(postgres_uri)
    try:
        exp = await _seed_values(backend)
        before = await _value_searches(backend, exp)
        async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
            for table in ("params", "run_tags"):
                await conn.execute(f"DROP INDEX {table}_key_value_g0")
                await conn.execute(f"CREATE INDEX {table}_key_value_g0 ON {table} (key, run_id)")
            await conn.execute("DROP INDEX latest_metrics_probe_g0")
            await conn.execute("DELETE FROM schema_migrations WHERE version = 11")
    finally:
        await backend.close()
    again = await open_backend(postgres_uri)
    try:
        assert [m.version for m in again.upgraded] == [11]
        async with again.pool.acquire() as conn:  # type: ignore[attr-defined]
            definitions = {
                row[0]: row[1]
                for row in await conn.fetch(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                )
            }
        for table in ("params", "run_tags"):
            assert "INCLUDE (value_prefix, num_value)" in definitions[f"{table}_key_value_g0"]
        assert (
            "INCLUDE (value, is_nan, min_value, max_value)"
            in (definitions["latest_metrics_probe_g0"])
        )
        assert await _value_searches(again, exp) == before
        assert await again.verify() == {}
    finally:
        await again.close()


async def _probed_collations(conn: Any) -> dict[str, str | None]:
    rows = await conn.fetch(
        "SELECT table_name || '.' || column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY($1::text[])",
        list(PROBED_COLUMNS),
    )
    found = {row[0]: row[1] for row in rows}
    return {f"{t}.{c}": found[f"{t}.{c}"] for t, cs in PROBED_COLUMNS.items() for c in cs}


async def test_migration_12_makes_the_probed_columns_compare_bytewise(
    postgres_uri: str,
) -> None:
    """A PostgreSQL store at schema version 11 compared run ids, lifecycle stages and keys
    under the database's collation (an index probe called strcoll); a new store and one
    upgraded by migration 12 compare them bytewise. The searches and the run tree (a
    recursive query over run ids) answer the same."""
    backend = await open_backend(postgres_uri)
    try:
        exp = await _seed_values(backend)
        before = await _value_searches(backend, exp)
        async with backend.pool.acquire() as conn:  # type: ignore[attr-defined]
            fresh = await _probed_collations(conn)
            for table, columns in PROBED_COLUMNS.items():
                back = (f'ALTER COLUMN {c} TYPE text COLLATE "default"' for c in columns)
                altered = ", ".join(back)
                await conn.execute(f"ALTER TABLE {table} {altered}")
            old = await _probed_collations(conn)
            await conn.execute("DELETE FROM schema_migrations WHERE version = 12")
    finally:
        await backend.close()
    assert set(fresh.values()) == {"C"} and set(old.values()) == {None}, (fresh, old)
    again = await open_backend(postgres_uri)
    try:
        assert [m.version for m in again.upgraded] == [12]
        async with again.pool.acquire() as conn:  # type: ignore[attr-defined]
            assert await _probed_collations(conn) == fresh
        assert await _value_searches(again, exp) == before
        page = await again.reads.search_runs(
            experiment_ids=[int(exp)],
            filter_text="attributes.run_name = 'run-0'",
            order_by=[],
            view_type="ACTIVE_ONLY",
            max_results=1,
            offset=0,
        )
        root = page.items[0].info.run_id  # type: ignore[attr-defined]
        tree = await again.reads.run_tree(root)
        assert tree is not None
        assert await again.verify() == {}
    finally:
        await again.close()
