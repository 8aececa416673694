"""Differential test: a real MLflow server filled through the mlflow client, imported into
trackledger both ways (its URL and its database), then read through the mlflow client from
both sides: the same experiments, searches, runs, histories, artifacts and logged models.
Then more logging in MLflow, and a second import brings exactly that."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.server.mlflow_server import MlflowServer
from tests.server.process import ServerProcess
from trackledger.cli import main as cli
from trackledger.eventlog import events as e
from trackledger.services.backends import open_backend

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

HERE = Path(__file__).parent


def _script(name: str, url: str, *args: str, cwd: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    }
    done = subprocess.run(
        [sys.executable, str(HERE / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _normalized(snapshot: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """trackledger's answers, with what differs on purpose taken out: each server made its
    own Default experiment, and trackledger tags nested runs with their root."""
    out = json.loads(json.dumps(snapshot))
    for x in out["experiments"]:
        if x["experiment_id"] == "0":
            x.pop("creation_time"), x.pop("last_update_time")
    for run_id, run in out["runs"].items():
        theirs = reference["runs"].get(run_id, {}).get("tags", {})
        if "mlflow.rootRunId" not in theirs:
            run["tags"].pop("mlflow.rootRunId", None)
    return out


def _reference(snapshot: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(snapshot))
    for x in out["experiments"]:
        if x["experiment_id"] == "0":
            x.pop("creation_time"), x.pop("last_update_time")
    return out


def _import(source: str, store: str, artifacts: Path, capsys: Any) -> str:
    capsys.readouterr()
    status = cli(
        [
            "import-mlflow",
            source,
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            str(artifacts),
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "error" not in captured.err, captured.err
    return captured.out


def _count(summary: str, label: str) -> dict[str, int]:
    """The numbers of one line of the summary: "runs: 3 new, 1 updated" gives
    {"new": 3, "updated": 1}; "metric points: 8; params: 2" gives {"metric points": 8, ...}."""
    line = next(x for x in summary.splitlines() if x.strip().startswith(label))
    out = {}
    for segment in line.split(";"):
        name, _, rest = segment.partition(":")
        for part in rest.split("(")[0].split(","):
            words = part.replace(",", "").split()
            if len(words) == 1:
                out[name.strip()] = int(words[0])
            elif words:
                out[" ".join(words[1:])] = int(words[0])
    return out


async def _log_points(store: str) -> dict[str, int]:
    """Points per run in the log's metric events (a point imported twice counts twice)."""
    backend = await open_backend(store)
    try:
        counts: dict[str, int] = {}
        for stored in await backend.store.read_all(limit=10**7):
            if isinstance(stored.event, e.MetricsLogged):
                run = stored.event.run_id
                counts[run] = counts.get(run, 0) + len(stored.event.metrics)
        assert await backend.verify() == {}
        return counts
    finally:
        await backend.close()


@pytest.fixture
def stores(request, tmp_path, store_uri):
    """Two empty stores on the parametrized backend: one per way of importing."""
    if store_uri.startswith("sqlite"):
        yield [f"sqlite:///{tmp_path / 'by-server.db'}", f"sqlite:///{tmp_path / 'by-db.db'}"]
        return
    base, _, _ = store_uri.partition("?")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(base, f"CREATE SCHEMA {schema}"))
    try:
        yield [store_uri, f"{base}?search_path={schema}"]
    finally:
        asyncio.run(_admin(base, f"DROP SCHEMA {schema} CASCADE"))


async def _admin(database: str, sql: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_import_server_and_database_twice(tmp_path, stores, capsys):
    mlflow = MlflowServer(tmp_path / "mlflow")
    (tmp_path / "mlflow").mkdir()
    mlflow.start()
    servers: list[ServerProcess] = []
    try:
        seeded = _script("seed.py", mlflow.url, "first", cwd=tmp_path)
        (tmp_path / "seeded.json").write_text(json.dumps(seeded))
        sources = [mlflow.url, f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"]
        summaries = []
        for i, (source, store) in enumerate(zip(sources, stores, strict=True)):
            summaries.append(_import(source, store, tmp_path / f"artifacts-{i}", capsys))
            workdir = tmp_path / f"server-{i}"
            workdir.mkdir()
            servers.append(
                ServerProcess(
                    workdir, store, "--artifacts-destination", str(tmp_path / f"artifacts-{i}")
                ).start()
            )
        for summary in summaries:
            assert _count(summary, "runs") == {
                "new": 11,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
            }, summary
            assert _count(summary, "logged models")["new"] == 1, summary
        expected = _reference(_script("snapshot.py", mlflow.url, cwd=tmp_path))
        assert len(expected["runs"]) == 11 and expected["models"]
        for server in servers:
            got = _script("snapshot.py", server.url, cwd=tmp_path)
            assert _normalized(got, expected) == expected

        # More logging in MLflow; a second import brings exactly that.
        more = _script("seed.py", mlflow.url, "more", str(tmp_path / "seeded.json"), cwd=tmp_path)
        for i, (source, store) in enumerate(zip(sources, stores, strict=True)):
            summary = _import(source, store, tmp_path / f"artifacts-{i}", capsys)
            runs = _count(summary, "runs")
            assert runs["new"] == 1, summary
            points = _count(summary, "metric points")
            assert points["metric points"] == more["points"], summary
            assert points["params"] == more["params"], summary
            assert _count(summary, "artifact files")["artifact files"] == more["files"], summary
        expected = _reference(_script("snapshot.py", mlflow.url, cwd=tmp_path))
        for server in servers:
            got = _script("snapshot.py", server.url, cwd=tmp_path)
            assert _normalized(got, expected) == expected
        # No point came twice: the log holds each run's history once.
        histories = {
            run_id: sum(len(h) for h in run["histories"].values())
            for run_id, run in expected["runs"].items()
        }
        for store in stores:
            logged = asyncio.run(_log_points(store))
            assert {k: v for k, v in logged.items() if v} == {
                k: v for k, v in histories.items() if v
            }

        # A third import finds nothing new.
        for source, store, i in zip(sources, stores, range(2), strict=True):
            summary = _import(source, store, tmp_path / f"artifacts-{i}", capsys)
            assert _count(summary, "events")["events"] == 0, summary
    finally:
        for server in servers:
            server.stop()
        mlflow.stop()
