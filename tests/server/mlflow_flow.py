"""The basic tracking flow with the real mlflow client; prints what it read back as JSON.

Run by test_mlflow_client.py in its own process, with MLFLOW_TRACKING_URI set.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric


def run() -> dict[str, Any]:
    """The flow; what it read back."""
    experiment = mlflow.set_experiment("client-flow")
    with mlflow.start_run(run_name="outer") as outer:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"layers": 3, "optimizer": "adam"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev", "owner": "alice"})
        with mlflow.start_run(run_name="inner", nested=True) as inner:
            mlflow.log_metric("loss", 0.3)
    run = mlflow.get_run(outer.info.run_id)
    history = MlflowClient().get_metric_history(outer.info.run_id, "loss")
    frame = mlflow.search_runs(experiment_ids=[experiment.experiment_id])
    # set_experiment again finds the existing experiment instead of creating one.
    again = mlflow.set_experiment("client-flow")
    # Lifecycle through the client: runs and experiments, deleted and restored.
    client = MlflowClient()
    client.delete_run(inner.info.run_id)
    stages = [client.get_run(inner.info.run_id).info.lifecycle_stage]
    client.restore_run(inner.info.run_id)
    stages.append(client.get_run(inner.info.run_id).info.lifecycle_stage)
    client.delete_experiment(experiment.experiment_id)
    stages.append(client.get_experiment(experiment.experiment_id).lifecycle_stage)
    stages.append(client.get_run(outer.info.run_id).info.lifecycle_stage)
    client.restore_experiment(experiment.experiment_id)
    stages.append(client.get_experiment(experiment.experiment_id).lifecycle_stage)
    stages.append(client.get_run(outer.info.run_id).info.lifecycle_stage)
    return {
        "experiment_id": experiment.experiment_id,
        "again_id": again.experiment_id,
        "stages": stages,
        "outer": outer.info.run_id,
        "inner": inner.info.run_id,
        "status": run.info.status,
        "end_time": run.info.end_time,
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": run.data.tags,
        "history": [[m.step, m.value] for m in history],
        "columns": sorted(frame.columns),
        "rows": frame[["run_id", "tags.mlflow.runName", "tags.mlflow.parentRunId"]]
        .fillna("")
        .values.tolist(),
    }


def paging() -> dict[str, list[str]]:
    """Runs by a metric with ties, paged through by the client's tokens and read whole;
    and the tokens (the server says where each next page resumes in them)."""
    client = MlflowClient()
    experiment_id = client.create_experiment("client-paging")
    for i in range(12):
        run = client.create_run(experiment_id, start_time=1_000 + i % 5)
        client.log_batch(run.info.run_id, metrics=[Metric("m", (i % 4) / 2, 0, 0)])
    order = ["metrics.m ASC"]
    whole = [r.info.run_id for r in client.search_runs([experiment_id], order_by=order)]
    paged: list[str] = []
    tokens: list[str] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], order_by=order, max_results=5, page_token=token)
        paged += [r.info.run_id for r in page]
        if not page.token:
            return {"paged": paged, "whole": whole, "tokens": tokens}
        token = page.token
        tokens.append(token)


def main() -> None:
    print(json.dumps({**run(), **paging()}))


if __name__ == "__main__":
    main()
