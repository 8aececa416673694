"""The import's rules, on both backends, from a small MLflow SQLite database made by the
mlflow client: ids and times kept, the source named in every object's history, deleted
objects restorable for what is left of their window, a second import bringing only what
changed in MLflow (and never undoing what changed here), clashes reported, dry runs
writing nothing, and the source database never written."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import count_events
from tests.server.process import free_port
from trackledger.eventlog import commands as c
from trackledger.eventlog import events as e
from trackledger.eventlog.errors import InvalidInput
from trackledger.eventlog.registry_commands import CreateRegisteredModel, DeleteRegisteredModel
from trackledger.eventlog.store import StoredEvent
from trackledger.services.artifact_store import LocalArtifactStore
from trackledger.services.mlflow_import import ImportOptions, import_mlflow, open_source
from trackledger.services.mlflow_plan import Tally

T0 = 1_690_000_000_000
DAY = 86_400_000
API = "/api/2.0/mlflow"


def _sql(db: Path, sql: str, *params: object) -> None:
    """Change the MLflow database as MLflow itself would (the test's own copy)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


async def _import(
    backend, db: Path, tmp_path: Path, now: int, artifacts: str | None = None, **options: object
) -> Tally:
    source, _ = await open_source(f"sqlite:///{db}", artifacts)
    try:
        return await import_mlflow(
            backend,
            source,
            ImportOptions(importer="tester", **options),  # type: ignore[arg-type]
            artifacts=LocalArtifactStore(tmp_path / "artifacts"),
            now=now,
        )
    finally:
        await source.close()


async def _run(client, run_id: str) -> dict:
    response = await client.get(f"{API}/runs/get", params={"run_id": run_id})
    assert response.status_code == 200, response.text
    return response.json()["run"]


async def _history(client, run_id: str) -> list[dict]:
    response = await client.get(
        "/api/2.0/trackledger/runs/history", params={"run_id": run_id, "max_results": 1000}
    )
    return response.json()["events"]


async def test_ids_times_and_origin_are_kept(backend, client, mlflow_db, clock, tmp_path):
    db, ids = mlflow_db
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    tally = await _import(backend, db, tmp_path, clock.now)
    assert (tally.experiments_created, tally.runs_created, tally.clashes) == (2, 4, [])
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest  # read only

    r1 = await _run(client, ids["r1"])
    assert r1["info"]["experiment_id"] == "1"
    assert (r1["info"]["start_time"], r1["info"]["end_time"]) == (T0, T0 + 100)
    assert r1["info"]["status"] == "FINISHED"
    assert r1["info"]["artifact_uri"] == f"mlflow-artifacts:/1/{ids['r1']}/artifacts"
    assert {p["key"]: p["value"] for p in r1["data"]["params"]} == {"lr": "0.1"}
    tags = {t["key"]: t["value"] for t in r1["data"]["tags"]}
    assert (tags["t"], tags["u"], tags["mlflow.runName"]) == ("1", "x", "r1")
    r3 = await _run(client, ids["r3"])
    assert {t["key"]: t["value"] for t in r3["data"]["tags"]}["mlflow.rootRunId"] == ids["r1"]
    for name in ("r2", "r4"):
        assert (await _run(client, ids[name]))["info"]["lifecycle_stage"] == "deleted"

    history = await _history(client, ids["r1"])
    marker, created = history[0], history[1]
    assert marker["type"] == "run.imported" and marker["actor"] == "tester"
    assert marker["data"]["source"] == f"sqlite:///{db}"
    assert marker["data"]["imported_at"] == clock.now
    assert (created["type"], created["time"]) == ("run.created", T0)
    assert created["actor"] == r1["info"]["user_id"]
    finished = next(x for x in history if x["type"] == "run.updated")
    assert finished["time"] == T0 + 100
    conn = sqlite3.connect(db)
    (deleted_time,) = conn.execute(
        "SELECT deleted_time FROM runs WHERE run_uuid = ?", (ids["r2"],)
    ).fetchone()
    conn.close()
    deleted = (await _history(client, ids["r2"]))[-1]
    assert (deleted["type"], deleted["time"], deleted["data"]["time"]) == (
        "run.deleted",
        deleted_time,
        deleted_time,
    )
    experiment = await client.get(
        "/api/2.0/trackledger/experiments/history", params={"experiment_id": "1"}
    )
    assert experiment.json()["events"][0]["type"] == "experiment.imported"

    listed = await client.get(f"{API}/artifacts/list", params={"run_id": ids["r1"]})
    assert listed.json()["files"] == [{"path": "docs", "is_dir": True}]
    stored = tmp_path / "artifacts" / "1" / ids["r1"] / "artifacts" / "docs" / "notes.txt"
    assert stored.read_text() == "first"
    assert any(x["type"] == "run.artifact_logged" for x in history)
    assert await backend.verify() == {}


async def test_again_brings_only_what_changed_in_mlflow(
    backend, client, mlflow_db, clock, tmp_path
):
    db, ids = mlflow_db
    await _import(backend, db, tmp_path, clock.now)
    logged = await count_events(backend)
    tally = await _import(backend, db, tmp_path, clock.now + 1)
    assert (tally.events, tally.runs_unchanged) == (0, 4)
    assert await count_events(backend) == logged

    # Changes made here stay: MLflow did not change these since the last import.
    await backend.store.execute(
        c.LogBatch(run_id=ids["r1"], tags=[c.TagIn("t", "here")], shape="single")
    )
    await backend.store.execute(c.DeleteRun(run_id=ids["r3"]))
    tally = await _import(backend, db, tmp_path, clock.now + 2)
    assert tally.events == 0

    # Changes in MLflow come, and only they.
    _sql(db, "UPDATE tags SET value = '2' WHERE run_uuid = ? AND key = 'u'", ids["r1"])
    _sql(
        db,
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
        "VALUES ('loss', 0.1, ?, ?, 3, 0)",
        T0 + 50,
        ids["r1"],
    )
    _sql(
        db,
        "UPDATE latest_metrics SET value = 0.1, timestamp = ?, step = 3 "
        "WHERE run_uuid = ? AND key = 'loss'",
        T0 + 50,
        ids["r1"],
    )
    _sql(
        db,
        "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?",
        ids["r2"],
    )
    tally = await _import(backend, db, tmp_path, clock.now + 3)
    assert (tally.runs_updated, tally.runs_unchanged, tally.points) == (2, 2, 1)
    r1 = await _run(client, ids["r1"])
    tags = {t["key"]: t["value"] for t in r1["data"]["tags"]}
    assert (tags["u"], tags["t"]) == ("2", "here")
    history = await client.get(
        f"{API}/metrics/get-history", params={"run_id": ids["r1"], "metric_key": "loss"}
    )
    assert [m["step"] for m in history.json()["metrics"]] == [0, 1, 2, 3]
    assert (await _run(client, ids["r2"]))["info"]["lifecycle_stage"] == "active"
    assert (await _run(client, ids["r3"]))["info"]["lifecycle_stage"] == "deleted"
    assert await backend.verify() == {}


async def test_clashes_are_reported_and_renumbering_is_asked_for(
    backend, mlflow_db, clock, tmp_path
):
    db, ids = mlflow_db
    # Here, experiment 1 is "e2": MLflow's e1 finds its id taken, its e2 its name.
    await backend.store.execute(c.CreateExperiment(name="e2"))
    tally = await _import(backend, db, tmp_path, clock.now)
    assert len(tally.clashes) == 2 and tally.runs_created == 0
    assert "id 1 belongs to experiment 'e2'" in tally.clashes[0]
    assert "the name belongs to experiment 1" in tally.clashes[1]

    tally = await _import(backend, db, tmp_path, clock.now, renumber=True)
    assert tally.experiments_created == 1 and tally.runs_created == 3
    assert any("is experiment 3 here" in w for w in tally.warnings)
    run = await backend.reads.get_run(ids["r1"])
    assert run is not None and run.info.experiment_id == "3"
    # Found again by its marker: nothing twice, with or without --renumber.
    tally = await _import(backend, db, tmp_path, clock.now)
    assert tally.events == 0 and len(tally.clashes) == 1


async def test_a_run_here_that_was_not_imported_is_a_clash(backend, mlflow_db, clock, tmp_path):
    db, ids = mlflow_db
    created = e.RunCreated(
        run_id=ids["r1"],
        experiment_id="0",
        run_name="mine",
        start_time=clock.now,
        artifact_uri="mlflow-artifacts:/0/x/artifacts",
    )
    event = StoredEvent(
        position=0,
        stream_id=created.stream,
        type="run.created",
        recorded_at=clock.now,
        actor=None,
        idempotency_key=None,
        event=created,
    )
    await backend.store.append_imported([event])
    tally = await _import(backend, db, tmp_path, clock.now)
    assert tally.clashes == [f"run {ids['r1']}: it exists here and was not imported"]
    run = await backend.reads.get_run(ids["r1"])
    assert run is not None and run.info.run_name == "mine"


async def test_a_dry_run_writes_nothing(backend, mlflow_db, clock, tmp_path):
    db, _ = mlflow_db
    logged = await count_events(backend)
    tally = await _import(backend, db, tmp_path, clock.now, dry_run=True)
    assert (tally.runs_created, tally.points, tally.files) == (4, 5, 1)
    assert tally.events > 0
    assert await count_events(backend) == logged
    assert not (tmp_path / "artifacts").exists()


async def test_deleted_runs_keep_what_is_left_of_their_window(backend, mlflow_db, clock, tmp_path):
    db, ids = mlflow_db
    _sql(db, "UPDATE runs SET deleted_time = ? WHERE run_uuid = ?", clock.now - 40 * DAY, ids["r2"])
    _sql(
        db,
        "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?",
        clock.now - DAY,
        ids["r3"],
    )
    tally = await _import(backend, db, tmp_path, clock.now)
    assert tally.deleted_past_retention == 1
    with pytest.raises(InvalidInput, match="past the restore window"):
        await backend.store.execute(c.RestoreRun(run_id=ids["r2"]))
    await backend.store.execute(c.RestoreRun(run_id=ids["r3"]))
    run = await backend.reads.get_run(ids["r3"])
    assert run is not None and run.info.lifecycle_stage == "active"


async def test_files_that_cannot_be_read_stay_where_they_are(backend, mlflow_db, clock, tmp_path):
    db, ids = mlflow_db
    uri = f"mlflow-artifacts:/1/{ids['r1']}/artifacts"
    _sql(db, "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", uri, ids["r1"])
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    tally = await _import(backend, db, tmp_path, clock.now, artifacts=server)
    assert any(w.startswith("cannot list the files at") for w in tally.warnings)
    run = await backend.reads.get_run(ids["r1"])
    assert run is not None
    assert (
        run.info.artifact_uri
        == f"{server}/api/2.0/mlflow-artifacts/artifacts/1/{ids['r1']}/artifacts"
    )


async def test_the_registry_comes_along_once(backend, mlflow_db, clock, tmp_path):
    db, ids = mlflow_db
    tally = await _import(backend, db, tmp_path, clock.now)
    assert tally.registered_models_created == 1
    model = await backend.registry.model_named("reg")
    assert model is not None and model.aliases == [("best", 1)]
    assert {t.key: t.value for t in model.tags} == {"k": "1"}
    (version,) = model.latest_versions
    assert version.run_id == ids["r1"]
    # r1's files were copied: the version's files moved with them.
    assert version.storage_location == f"mlflow-artifacts:/1/{ids['r1']}/artifacts/docs"

    _sql(db, "UPDATE registered_model_tags SET value = '2' WHERE name = 'reg'")
    tally = await _import(backend, db, tmp_path, clock.now)
    assert tally.registered_models_updated == 1 and tally.events == 2  # marker and tag
    model = await backend.registry.model_named("reg")
    assert model is not None and {t.key: t.value for t in model.tags} == {"k": "2"}

    # Deleted here, it stays deleted while MLflow does not change it.
    await backend.store.execute(DeleteRegisteredModel(name="reg"))
    tally = await _import(backend, db, tmp_path, clock.now)
    assert tally.events == 0 and await backend.registry.model_named("reg") is None


async def test_a_registered_model_here_that_was_not_imported_is_a_clash(
    backend, mlflow_db, clock, tmp_path
):
    db, _ = mlflow_db
    await backend.store.execute(CreateRegisteredModel(name="reg"))
    tally = await _import(backend, db, tmp_path, clock.now)
    assert tally.clashes == ["registered model 'reg': it exists here and was not imported"]
    model = await backend.registry.model_named("reg")
    assert model is not None and model.tags == []
