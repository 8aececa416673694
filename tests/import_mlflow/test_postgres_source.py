"""The database of an MLflow PostgreSQL store, imported read-only, with its artifacts left
where they are (``--artifacts reference``): the mlflow client reads the same from both
sides, files included. The store is filled by the mlflow client itself (an SQL tracking
URI), so its artifacts are local paths."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from tests.import_mlflow.helpers import count, normalized, reference, run_import, script
from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def _admin(database: str, sql: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def mlflow_database(postgres_database):
    """MLflow's store in a schema of its own in the run's database (a database of its own
    cost a checkpoint of the whole server when dropped: 12 s of CI on these machines)."""
    schema = f"mlflow_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_database, f"CREATE SCHEMA {schema}"))
    try:
        yield postgres_database, schema
    finally:
        asyncio.run(_admin(postgres_database, f"DROP SCHEMA {schema} CASCADE"))


def test_import_postgres_database_by_reference(tmp_path, mlflow_database, capsys):
    database, schema = mlflow_database
    source = f"{database}?search_path={schema}"
    tracking = database.replace("postgresql://", "postgresql+psycopg://", 1)
    tracking += f"?options=-csearch_path%3D{schema}"
    seeded = script("seed.py", tracking, "first", cwd=tmp_path)
    (tmp_path / "seeded.json").write_text(json.dumps(seeded))
    store = f"sqlite:///{tmp_path / 'trackledger.db'}"
    options = ("--artifacts", "reference")
    summary = run_import(source, store, tmp_path / "artifacts", capsys, *options)
    assert count(summary, "runs")["new"] == 11, summary
    assert count(summary, "artifact files")["artifact files"] == 0, summary
    server = ServerProcess(tmp_path, store, "--artifacts-destination", str(tmp_path / "artifacts"))
    server.start()
    try:
        expected = reference(script("snapshot.py", tracking, cwd=tmp_path))
        assert any(run["files"] for run in expected["runs"].values())
        assert normalized(script("snapshot.py", server.url, cwd=tmp_path), expected) == expected

        more = script("seed.py", tracking, "more", str(tmp_path / "seeded.json"), cwd=tmp_path)
        summary = run_import(source, store, tmp_path / "artifacts", capsys, *options)
        assert count(summary, "runs")["new"] == 1, summary
        assert count(summary, "metric points")["metric points"] == more["points"], summary
        expected = reference(script("snapshot.py", tracking, cwd=tmp_path))
        assert normalized(script("snapshot.py", server.url, cwd=tmp_path), expected) == expected
    finally:
        server.stop()
