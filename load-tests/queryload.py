"""Load a ``querydata.Dataset`` into a server: through the REST API (any MLflow-compatible
server), or straight through trackledger's event log (the same commands the API executes,
without HTTP: much faster for 100,000 runs and more).

Both record the run ids of the run indexes the queries name (``{run:INDEX}``).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import sys
import time
from collections.abc import Iterable

import orjson
from loadgen import Planned, run_workers
from querydata import Dataset, RunData

__all__ = ["ApiLoader", "load_api", "load_events"]

API = "/api/2.0/mlflow"
EXPERIMENT = "querymix"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _metric_value(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class ApiLoader:
    """Worker steps that log each run with two or three requests: create (with its tags),
    log-batch (params and metrics), and update (status and end time) unless it runs on."""

    def __init__(self, ds: Dataset, experiment_id: str, refs: Iterable[int]) -> None:
        self.ds = ds
        self.experiment_id = experiment_id
        self.refs = set(refs)
        self.run_ids: dict[int, str] = {}
        self.next_run = itertools.count()
        self.pending: dict[int, list[Planned]] = {}
        self.done = 0
        self.started = time.perf_counter()

    def step(self, worker: int, _: int) -> Planned | None:
        queue = self.pending.get(worker)
        if queue:
            return queue.pop(0)
        index = next(self.next_run)
        if index >= self.ds.runs:
            return None
        run = self.ds.run(index)
        body = {
            "experiment_id": self.experiment_id,
            "run_name": run.name,
            "start_time": run.start_time,
            "user_id": run.user_id,
            "tags": [{"key": k, "value": v} for k, v in run.tags.items()],
        }
        return Planned("POST", f"{API}/runs/create", body, 0, self._created(worker, run))

    def _created(self, worker: int, run: RunData):  # type: ignore[no-untyped-def]
        def on_ok(body: bytes) -> None:
            run_id = orjson.loads(body)["run"]["info"]["run_id"]
            if run.index in self.refs:
                self.run_ids[run.index] = run_id
            self.pending[worker] = self._rest(run, run_id)

        return on_ok

    def _rest(self, run: RunData, run_id: str) -> list[Planned]:
        metrics = [
            {"key": key, "value": _metric_value(v), "timestamp": ts, "step": step}
            for key, points in run.metrics.items()
            for v, ts, step in points
        ]
        params = [{"key": k, "value": v} for k, v in run.params.items()]
        batch = {"run_id": run_id, "metrics": metrics, "params": params}
        last = self._finished if run.end_time is None and not run.deleted else None
        requests = [Planned("POST", f"{API}/runs/log-batch", batch, len(metrics), last)]
        if run.end_time is not None:
            update = {"run_id": run_id, "status": run.status, "end_time": run.end_time}
            done = None if run.deleted else self._finished
            requests.append(Planned("POST", f"{API}/runs/update", update, 0, done))
        if run.deleted:
            requests.append(
                Planned("POST", f"{API}/runs/delete", {"run_id": run_id}, 0, self._finished)
            )
        return requests

    def _finished(self, _: bytes) -> None:
        self.done += 1
        if self.done % 10_000 == 0:
            rate = self.done / (time.perf_counter() - self.started)
            _progress(f"  loaded {self.done:,} of {self.ds.runs:,} runs ({rate:,.0f} runs/s)")


async def load_api(
    port: int, ds: Dataset, refs: Iterable[int], workers: int
) -> tuple[str, dict[int, str]]:
    """Create the experiment and every run through the API; (experiment id, run ids)."""
    from loadgen import Connection

    conn = Connection(port)
    try:
        status, body = await conn.request(
            "POST", f"{API}/experiments/create", {"name": EXPERIMENT}
        )
    finally:
        await conn.close()
    if status != 200:
        raise RuntimeError(f"experiments/create failed: {status} {body[:200]!r}")
    experiment_id: str = orjson.loads(body)["experiment_id"]
    loader = ApiLoader(ds, experiment_id, refs)
    result = await run_workers(
        port, workers, loader.step, seconds=24 * 3600, max_requests=4 * ds.runs + workers
    )
    if result.errors:
        raise RuntimeError(f"loading failed: {result.first_errors}")
    return experiment_id, loader.run_ids


async def load_events(
    uri: str, ds: Dataset, refs: Iterable[int], writers: int = 32
) -> tuple[str, dict[int, str]]:
    """Write every run through trackledger's event log (one CreateRun, one LogBatch and an
    UpdateRun per run: the commands the API's requests become), ``writers`` at once."""
    from trackledger.eventlog import commands as c
    from trackledger.eventlog.results import CreatedRun, ExperimentId
    from trackledger.services.backends import open_backend

    wanted = set(refs)
    run_ids: dict[int, str] = {}
    backend = await open_backend(uri, sqlite_synchronous="NORMAL")
    try:
        made = await backend.store.execute(c.CreateExperiment(name=EXPERIMENT))
        assert isinstance(made, ExperimentId)
        experiment_id = made.experiment_id
        numbers = iter(range(ds.runs))
        started = time.perf_counter()

        async def writer() -> None:
            for i in numbers:
                run = ds.run(i)
                created = await backend.store.execute(
                    c.CreateRun(
                        experiment_id=experiment_id,
                        run_name=run.name,
                        start_time=run.start_time,
                        user_id=run.user_id,
                        tags=[c.TagIn(k, v) for k, v in run.tags.items()],
                    )
                )
                assert isinstance(created, CreatedRun)
                run_id = created.event.run_id
                if i in wanted:
                    run_ids[i] = run_id
                await backend.store.execute(
                    c.LogBatch(
                        run_id=run_id,
                        params=[c.ParamIn(k, v) for k, v in run.params.items()],
                        metrics=[
                            c.MetricIn(key, v, ts, step)
                            for key, points in run.metrics.items()
                            for v, ts, step in points
                        ],
                    )
                )
                if run.end_time is not None:
                    await backend.store.execute(
                        c.UpdateRun(run_id=run_id, status=run.status, end_time=run.end_time)
                    )
                if run.deleted:
                    await backend.store.execute(c.DeleteRun(run_id=run_id))
                if (i + 1) % 10_000 == 0:
                    rate = (i + 1) / (time.perf_counter() - started)
                    _progress(f"  wrote {i + 1:,} of {ds.runs:,} runs ({rate:,.0f} runs/s)")

        await asyncio.gather(*(writer() for _ in range(writers)))
    finally:
        await backend.close()
    return experiment_id, run_ids


def _mlflow_value(value: float) -> tuple[float, int]:
    """(value, is_nan) as MLflow's SQL store keeps a metric value: NaN as 0 with is_nan,
    infinities clamped to the largest double."""
    if math.isnan(value):
        return 0.0, 1
    if math.isinf(value):
        return (1.7976931348623157e308 if value > 0 else -1.7976931348623157e308), 0
    return value, 0


def make_mlflow_db(path: str, ds: Dataset, experiment_id: int = 1) -> None:
    """An MLflow SQLite database holding ``ds``: its schema made by MLflow's own
    ``SqlAlchemyStore`` (migrations and all), its rows written with SQL in that schema as
    MLflow's store writes them (the run name in ``runs.name`` and the ``mlflow.runName`` tag,
    every point in ``metrics``, the latest by (step, timestamp, value) in
    ``latest_metrics``). Run ids are ``uuid(int=index + 1)``, the same on every target
    that imports or serves this file."""
    import sqlite3
    import uuid
    from pathlib import Path

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SqlAlchemyStore(f"sqlite:///{path}", str(Path(path).parent / "mlartifacts"))
    store.engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
        "creation_time, last_update_time) VALUES (?, ?, ?, 'active', ?, ?)",
        (experiment_id, EXPERIMENT, f"mlflow-artifacts:/{experiment_id}", ds.start_time(0), 0),
    )
    started = time.perf_counter()
    for i in range(ds.runs):
        run = ds.run(i)
        run_id = uuid.UUID(int=i + 1).hex
        conn.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id, deleted_time) VALUES "
            "(?, ?, 'UNKNOWN', '', '', ?, ?, ?, ?, '', ?, ?, ?, ?)",
            (
                run_id,
                run.name,
                run.user_id,
                run.status,
                run.start_time,
                run.end_time,
                "deleted" if run.deleted else "active",
                f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                experiment_id,
                run.start_time + 5000 if run.deleted else None,
            ),
        )
        tags = [("mlflow.runName", run.name), *run.tags.items()]
        conn.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
            [(k, v, run_id) for k, v in tags],
        )
        conn.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(k, v, run_id) for k, v in run.params.items()],
        )
        points = [
            (key, *_mlflow_value(v), ts, step)
            for key, series in run.metrics.items()
            for v, ts, step in series
        ]
        conn.executemany(
            "INSERT INTO metrics (key, value, is_nan, timestamp, step, run_uuid) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(*p, run_id) for p in points],
        )
        latest: dict[str, tuple[str, float, int, int, int]] = {}
        for p in points:
            old = latest.get(p[0])
            if old is None or (p[4], p[3], p[1]) > (old[4], old[3], old[1]):
                latest[p[0]] = p
        conn.executemany(
            "INSERT INTO latest_metrics (key, value, is_nan, timestamp, step, run_uuid) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(*p, run_id) for p in latest.values()],
        )
        if (i + 1) % 100_000 == 0:
            rate = (i + 1) / (time.perf_counter() - started)
            _progress(f"  made {i + 1:,} of {ds.runs:,} runs ({rate:,.0f} runs/s)")
    conn.execute("COMMIT")
    conn.close()


def import_mlflow_db(source: str, store: str, workdir: str) -> None:
    """``trackledger import-mlflow`` from the database at ``source`` into ``store``, as a
    user runs it (the CLI, in a process of its own)."""
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trackledger",
            "import-mlflow",
            f"sqlite:///{source}",
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            f"{workdir}/artifacts",
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the import into {store} failed with status {done.returncode}")
