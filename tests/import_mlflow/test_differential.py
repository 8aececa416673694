"""Differential test: a real MLflow server (SQLite store) filled through the mlflow client,
imported into trackledger both ways (its URL into PostgreSQL, its database into SQLite), then read
through the mlflow client from every side: the same experiments, searches, runs,
histories, artifacts and logged models. Then more logging in MLflow: a second import brings
exactly that, and a third brings nothing.

One MLflow server serves both imports: it takes 10-30 s to start on these machines, and
its seeding as long again.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from tests.import_mlflow.helpers import (
    count,
    log_points,
    normalized,
    reference,
    run_import,
    script,
    scripts,
)
from tests.server.mlflow_server import MlflowServer
from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


async def _admin(database: str, sql: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def stores(request, tmp_path):
    """Two empty stores, the first imported from MLflow's server, the second from its
    database: on PostgreSQL and SQLite (on SQLite both, where PostgreSQL is not there).
    Each source into each backend was four imports, snapshots and servers: 40 s more of CI
    on a slow machine, for a pairing the importer does not have (its sources read MLflow,
    its target is the event store, the same for both backends)."""
    by_db = f"sqlite:///{tmp_path / 'by-db.db'}"
    try:
        database = request.getfixturevalue("postgres_database")
    except pytest.skip.Exception:
        yield [f"sqlite:///{tmp_path / 'by-server.db'}", by_db]
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(database, f"CREATE SCHEMA {schema}"))
    try:
        yield [f"{database}?search_path={schema}", by_db]
    finally:
        asyncio.run(_admin(database, f"DROP SCHEMA {schema} CASCADE"))


def test_import_server_and_database_twice(tmp_path, stores, capsys):
    (tmp_path / "mlflow").mkdir()
    mlflow = MlflowServer(tmp_path / "mlflow").start()
    # The first store imports from the server, the second from its database (whose
    # mlflow-artifacts: files are found in "mlartifacts" beside it, MLflow's default).
    sources = [mlflow.url, f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"]
    servers: list[ServerProcess] = []
    try:
        seeded = script("seed.py", mlflow.url, "first", cwd=tmp_path)
        (tmp_path / "seeded.json").write_text(json.dumps(seeded))
        for i, (source, store) in enumerate(zip(sources, stores, strict=True)):
            summary = run_import(source, store, tmp_path / f"artifacts-{i}", capsys)
            assert count(summary, "runs") == {
                "new": 11,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
            }, summary
            assert count(summary, "logged models")["new"] == 1, summary
            assert count(summary, "registered models")["new"] == 2, summary
            workdir = tmp_path / f"server-{i}"
            workdir.mkdir()
            artifacts = str(tmp_path / f"artifacts-{i}")
            servers.append(
                ServerProcess(workdir, store, "--artifacts-destination", artifacts).start()
            )
        expected = reference(script("snapshot.py", mlflow.url, cwd=tmp_path))
        assert len(expected["runs"]) == 11 and len(expected["models"]) == 1
        for got in scripts("snapshot.py", [s.url for s in servers], cwd=tmp_path):
            assert normalized(got, expected) == expected

        # More logging in MLflow; a second import brings exactly that.
        more = script("seed.py", mlflow.url, "more", str(tmp_path / "seeded.json"), cwd=tmp_path)
        for i, (source, store) in enumerate(zip(sources, stores, strict=True)):
            summary = run_import(source, store, tmp_path / f"artifacts-{i}", capsys)
            assert count(summary, "runs")["new"] == 1, summary
            points = count(summary, "metric points")
            assert points["metric points"] == more["points"], summary
            assert points["params"] == more["params"], summary
            assert count(summary, "artifact files")["artifact files"] == more["files"], summary
            assert count(summary, "experiments") == {"new": 0, "updated": 2}, summary
            assert count(summary, "registered models") == {"new": 0, "updated": 2}, summary
        expected = reference(script("snapshot.py", mlflow.url, cwd=tmp_path))
        for got in scripts("snapshot.py", [s.url for s in servers], cwd=tmp_path):
            assert normalized(got, expected) == expected
        # No point came twice: the log holds each run's history once.
        histories = {
            run_id: sum(len(h) for h in run["histories"].values())
            for run_id, run in expected["runs"].items()
        }
        for store in stores:
            logged = asyncio.run(log_points(store))
            assert logged == {k: v for k, v in histories.items() if v}

        # A third import finds nothing new.
        for i, (source, store) in enumerate(zip(sources, stores, strict=True)):
            summary = run_import(source, store, tmp_path / f"artifacts-{i}", capsys)
            assert count(summary, "events")["events"] == 0, summary
    finally:
        for server in servers:
            server.stop()
        mlflow.stop()
