"""Data for the UI tests, created through the REST API as a client would."""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field

import httpx

API = "/api/2.0/mlflow"
#: A 1x1 PNG, to preview an image artifact.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Seeded:
    experiment_id: str
    runs: dict[str, str] = field(default_factory=dict)  # name -> run id


def _post(client: httpx.Client, path: str, body: dict) -> dict:
    response = client.post(f"{API}/{path}", json=body)
    response.raise_for_status()
    return response.json()


def seed(base_url: str) -> Seeded:
    """A sweep (a parent with three trials), a baseline with a spike in its loss and
    artifacts, and a run started 40 days ago; params, metric histories and tags on each."""
    now = int(time.time() * 1000) - 3_600_000
    with httpx.Client(base_url=base_url, timeout=30) as client:
        exp = _post(client, "experiments/create", {"name": "ui-demo"})["experiment_id"]
        seeded = Seeded(exp)

        def run(name: str, start: int, parent: str | None, lr: float, team: str) -> str:
            tags = [
                {"key": "team", "value": team},
                {"key": "mlflow.source.name", "value": "train.py"},
                {"key": "mlflow.source.type", "value": "LOCAL"},
            ]
            if parent:
                tags.append({"key": "mlflow.parentRunId", "value": parent})
            made = _post(
                client,
                "runs/create",
                {
                    "experiment_id": exp,
                    "run_name": name,
                    "start_time": start,
                    "user_id": "ada",
                    "tags": tags,
                },
            )
            run_id: str = made["run"]["info"]["run_id"]
            seeded.runs[name] = run_id
            points = [
                {
                    "key": "loss",
                    "value": (
                        2.0 * math.exp(-lr * 40 * s / 200)
                        + (5.0 if (name == "baseline" and s == 137) else 0.0)
                    ),
                    "timestamp": start + s * 1000,
                    "step": s,
                }
                for s in range(200)
            ]
            points.append(
                {"key": "accuracy", "value": round(1 - lr * 3, 4), "timestamp": start, "step": 0}
            )
            _post(
                client,
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "params": [
                        {"key": "lr", "value": str(lr)},
                        {"key": "batch_size", "value": "32"},
                    ],
                    "metrics": points,
                },
            )
            _post(
                client,
                "runs/update",
                {"run_id": run_id, "status": "FINISHED", "end_time": start + 200_000},
            )
            return run_id

        sweep = run("sweep", now, None, 0.05, "vision")
        for i, lr in enumerate([0.1, 0.01, 0.001]):
            run(f"trial-{i}", now + 1000 * (i + 1), sweep, lr, "vision")
        baseline = run("baseline", now + 10_000, None, 0.02, "nlp")
        run("ancient", now - 40 * 86_400_000, None, 0.5, "old")

        info = client.get(f"{API}/runs/get", params={"run_id": baseline}).json()["run"]["info"]
        root = info["artifact_uri"].removeprefix("mlflow-artifacts:").lstrip("/")
        for path, body in [
            ("notes.txt", b"hello from the baseline\n"),
            ("config/params.json", b'{"lr": 0.02, "layers": [64, 64]}'),
            ("plots/curve.png", PNG),
        ]:
            client.put(
                f"/api/2.0/mlflow-artifacts/artifacts/{root}/{path}", content=body
            ).raise_for_status()
        return seeded
