"""Data for the UI tests, created through the REST API as a client would."""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field

import httpx

from tests import loopback

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
    with loopback.client(base_url=base_url, timeout=30) as client:
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


DESCRIPTION = """# Tuning run

Trained with **AdamW** and a *cosine* schedule; see [the paper](https://arxiv.org/abs/1711.05101).

- warm-up: `500` steps
- [a bad link](javascript:alert(1))

<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>
"""


def seed_rich(base_url: str) -> Seeded:
    """What the run page and Compare must show well: a run with metrics of very different
    scales (a loss, a constant learning rate, disk megabytes, CPU percent), a single-valued
    metric, a Markdown description holding HTML, a batch of params and tags only, a dataset
    input, a logged model and a child run; and three runs to compare, where the first
    metric and the first param by name are the same for all."""
    start = int(time.time() * 1000) - 7_200_000
    with loopback.client(base_url=base_url, timeout=30) as client:
        exp = _post(client, "experiments/create", {"name": "ui-rich"})["experiment_id"]
        seeded = Seeded(exp)

        def make(name: str, offset: int, tags: list[dict] | None = None) -> str:
            made = _post(
                client,
                "runs/create",
                {
                    "experiment_id": exp,
                    "run_name": name,
                    "start_time": start + offset,
                    "user_id": "ada",
                    "tags": tags or [],
                },
            )
            seeded.runs[name] = made["run"]["info"]["run_id"]
            return seeded.runs[name]

        def metrics(run_id: str, t0: int, series: dict) -> None:
            points = [
                {"key": key, "value": f(s), "timestamp": t0 + s * 1000, "step": s}
                for key, (f, n) in series.items()
                for s in range(n)
            ]
            for i in range(0, len(points), 1000):
                _post(client, "runs/log-batch", {"run_id": run_id, "metrics": points[i : i + 1000]})

        rich = make("rich", 0)
        metrics(
            rich,
            start,
            {
                "learning_rate": (lambda s: 0.001, 200),
                "loss": (lambda s: 2.0 * math.exp(-s / 60) + 0.1, 200),
                "system/cpu_percent": (lambda s: 40 + 30 * math.sin(s / 9), 200),
                "system/disk_mb": (lambda s: 75_000 + s * 0.5, 200),
                "val_accuracy": (lambda s: 0.912, 1),
            },
        )
        # A batch with params and tags but no metrics.
        _post(
            client,
            "runs/log-batch",
            {
                "run_id": rich,
                "params": [{"key": "optimizer", "value": "adamw"}, {"key": "lr", "value": "0.001"}],
                "tags": [
                    {"key": "mlflow.note.content", "value": DESCRIPTION},
                    {"key": "team", "value": "vision"},
                ],
            },
        )
        _post(
            client,
            "runs/log-inputs",
            {
                "run_id": rich,
                "datasets": [
                    {
                        "tags": [{"key": "mlflow.data.context", "value": "training"}],
                        "dataset": {
                            "name": "imagenet-mini",
                            "digest": "4f1c2a9e",
                            "source_type": "local",
                            "source": '{"uri": "/data/imagenet-mini"}',
                            "schema": '{"mlflow_colspec": [{"type": "double", "name": "x"}]}',
                        },
                    }
                ],
            },
        )
        model = client.post(
            "/api/2.0/mlflow/logged-models",
            json={
                "experiment_id": exp,
                "name": "resnet",
                "source_run_id": rich,
                "model_type": "cnn",
            },
        )
        model.raise_for_status()
        model_id = model.json()["model"]["info"]["model_id"]
        _post(
            client,
            "runs/outputs",
            {"run_id": rich, "models": [{"model_id": model_id, "step": 199}]},
        )
        seeded.runs["model:resnet"] = model_id
        make("rich-child", 5000, [{"key": "mlflow.parentRunId", "value": rich}])

        # Runs to compare: "aaa_constant" and "batch_size" are the same in all three.
        for i, (lr, opt) in enumerate([(0.1, "sgd"), (0.01, "adam"), (0.001, "adamw")]):
            run_id = make(f"cmp-{i}", 10_000 + i * 1000)
            metrics(
                run_id,
                start,
                {
                    "aaa_constant": (lambda s: 1.0, 50),
                    "loss": (lambda s, lr=lr: 3.0 * math.exp(-lr * s), 100),
                    "accuracy": (lambda s, i=i: 0.7 + 0.1 * i, 1),
                },
            )
            _post(
                client,
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "params": [
                        {"key": "batch_size", "value": "32"},
                        {"key": "lr", "value": str(lr)},
                        {"key": "optimizer", "value": opt},
                        {"key": "a_rather_long_parameter_name_for_the_label", "value": str(i)},
                        {"key": "another_quite_long_parameter_name", "value": str(10 - i)},
                    ],
                },
            )
        return seeded
