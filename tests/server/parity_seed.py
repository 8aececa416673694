"""The same runs, logged the same way, into any MLflow-compatible server.

The data is designed to make search answers sensitive to MLflow's rules: NaN and missing
metrics, latest values that are not the last written, params and tags some runs lack,
case-differing strings, keys that need quoting, finished/failed/running runs, datasets,
deleted runs, a run tree. Every run has its own start time, so orders never fall back to
run ids (which differ between servers).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from tests import loopback

API = "/api/2.0/mlflow"
RUNS = 30
MODELS = ["cnn", "rnn", "CNN", "mlp"]
RATES = ["0.001", "0.01", "0.1", "1e-3", "10"]


@dataclass
class SeedRun:
    index: int
    name: str
    experiment: str
    start_time: int
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    history: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    status: str = "RUNNING"
    deleted: bool = False


def plan() -> list[SeedRun]:
    runs = []
    for i in range(RUNS):
        run = SeedRun(
            index=i,
            name=f"run-{i:02d}" if i != 7 else "Run Seven",
            experiment="parity-a" if i % 3 else "parity-b",
            start_time=10_000 + i * 100,
        )
        run.params = {"model": MODELS[i % 4], "lr": RATES[i % 5]}
        if i % 3 == 0:
            run.params["opt"] = "adam" if i % 2 else "sgd"
        run.tags = {"priority": str(i % 4)}
        if i % 3 != 2:
            run.tags["team"] = "a" if i % 2 else "b"
        if i % 7 != 6:
            acc = math.nan if i in (4, 17) else round(i / 30, 4)
            run.history["acc"] = [(acc, 100 + i, 0)]
        # loss: step 2 is logged before step 1, so "last written" is not the latest.
        run.history["loss"] = [
            (1.0 - i / 100, 200, 0),
            (0.1 + i / 1000, 220, 2),
            (0.5, 230, 1),
        ]
        if i % 2 == 0:
            run.history["val loss"] = [(float(i % 5), 300, 0)]
        if i % 5 == 0:
            run.history["train-acc"] = [(i / 40, 300, 0)]
        run.status = "FINISHED" if i % 2 == 0 else ("FAILED" if i % 5 == 1 else "RUNNING")
        run.deleted = i in (5, 11)
        runs.append(run)
    return runs


def seed(base: str) -> dict[str, str]:
    """Log the plan into the server at ``base``; return run ids by run name."""
    ids: dict[str, str] = {}
    with loopback.client(base_url=f"{base}{API}", timeout=60) as http:

        def post(path: str, body: dict) -> dict:
            response = http.post(path, json=body)
            assert response.status_code == 200, (path, response.text)
            return response.json()

        experiments = {}
        for name in ("parity-a", "parity-b", "parity-c"):
            experiments[name] = post("/experiments/create", {"name": name})["experiment_id"]
            # Experiments are ordered by creation time (ms), then id: a shared millisecond
            # on one server and not the other would order them differently.
            time.sleep(0.005)
        post(
            "/experiments/set-experiment-tag",
            {"experiment_id": experiments["parity-a"], "key": "kind", "value": "main"},
        )
        post("/experiments/delete", {"experiment_id": experiments["parity-c"]})
        for run in plan():
            tags = [{"key": k, "value": v} for k, v in run.tags.items()]
            tags.append({"key": "mlflow.user", "value": "alice" if run.index % 2 else "bob"})
            created = post(
                "/runs/create",
                {
                    "experiment_id": experiments[run.experiment],
                    "run_name": run.name,
                    "start_time": run.start_time,
                    "user_id": "alice" if run.index % 2 else "bob",
                    "tags": tags,
                },
            )
            run_id = created["run"]["info"]["run_id"]
            ids[run.name] = run_id
            post(
                "/runs/log-batch",
                {
                    "run_id": run_id,
                    "params": [{"key": k, "value": v} for k, v in run.params.items()],
                },
            )
            for key, points in run.history.items():
                for value, timestamp, step in points:
                    post(
                        "/runs/log-metric",
                        {
                            "run_id": run_id,
                            "key": key,
                            "value": "NaN" if math.isnan(value) else value,
                            "timestamp": timestamp,
                            "step": step,
                        },
                    )
            if run.status != "RUNNING":
                post(
                    "/runs/update",
                    {"run_id": run_id, "status": run.status, "end_time": run.start_time + 50},
                )
            if run.index % 4 == 0:
                dataset = {
                    "tags": [
                        {
                            "key": "mlflow.data.context",
                            "value": "training" if run.index % 8 else "eval",
                        }
                    ],
                    "dataset": {
                        "name": f"ds{run.index % 3}",
                        "digest": f"d{run.index % 2}",
                        "source_type": "local",
                        "source": "/data",
                    },
                }
                post("/runs/log-inputs", {"run_id": run_id, "datasets": [dataset]})
            if run.deleted:
                post("/runs/delete", {"run_id": run_id})
        # A small tree: root -> child -> grandchild, and a second child.
        for name, parent in (
            ("tree-root", None),
            ("tree-child", "tree-root"),
            ("tree-grandchild", "tree-child"),
            ("tree-child-2", "tree-root"),
        ):
            tags = [{"key": "mlflow.parentRunId", "value": ids[parent]}] if parent else []
            created = post(
                "/runs/create",
                {
                    "experiment_id": experiments["parity-a"],
                    "run_name": name,
                    "start_time": 5_000 + len(ids),
                    "tags": tags,
                },
            )
            ids[name] = created["run"]["info"]["run_id"]
    return ids
