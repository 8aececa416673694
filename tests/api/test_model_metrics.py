"""Metrics logged with a model_id are the logged model's metrics (MLflow 3): shown by
logged-models/get and search, rebuilt from the log, gone with a purged run."""

from __future__ import annotations

import random

from tests.api.helpers import new_experiment, new_run, ok, post
from trackledger.services.gc import collect

MODELS = "/api/2.0/mlflow/logged-models"


async def _model(client, exp_id: str) -> str:
    body = {"experiment_id": exp_id, "name": "model"}
    return (await ok(await client.post(MODELS, json=body)))["model"]["info"]["model_id"]


async def test_metrics_logged_with_a_model_id_are_the_models(client, backend) -> None:
    exp_id = await new_experiment(client)
    run_id, other_run = await new_run(client, exp_id), await new_run(client, exp_id)
    model_id, other_model = await _model(client, exp_id), await _model(client, exp_id)
    point = {"timestamp": 123456789, "step": 1, "model_id": model_id}
    await ok(
        await post(
            client,
            "runs/log-metric",
            {
                "run_id": run_id,
                "key": "acc",
                "value": 0.5,
                **point,
                "dataset_name": "name",
                "dataset_digest": "digest",
            },
        )
    )
    batch = [
        {"key": "loss", "value": "NaN", **point},
        {"key": "loss", "value": 2.0, "timestamp": 5, "step": 0, "model_id": model_id},
        {"key": "loss", "value": 9.0, "timestamp": 5, "step": 0},  # no model: the run's only
        {"key": "acc", "value": 0.7, "timestamp": 5, "step": 0, "model_id": other_model},
    ]
    await ok(await post(client, "runs/log-batch", {"run_id": other_run, "metrics": batch}))
    # The same point again changes nothing.
    await ok(await post(client, "runs/log-batch", {"run_id": other_run, "metrics": batch[:1]}))
    got = (await ok(await client.get(f"{MODELS}/{model_id}")))["model"]["data"]["metrics"]
    mine = {"model_id": model_id}
    assert got == [
        {
            "key": "acc",
            "value": 0.5,
            "timestamp": 123456789,
            "step": 1,
            **mine,
            "run_id": run_id,
            "dataset_name": "name",
            "dataset_digest": "digest",
        },
        {"key": "loss", "value": 2.0, "timestamp": 5, "step": 0, **mine, "run_id": other_run},
        {
            "key": "loss",
            "value": "NaN",
            "timestamp": 123456789,
            "step": 1,
            **mine,
            "run_id": other_run,
        },
    ]
    search = {"experiment_ids": [exp_id]}
    found = (await ok(await client.post(f"{MODELS}/search", json=search)))["models"]
    by_id = {m["info"]["model_id"]: m["data"].get("metrics", []) for m in found}
    assert by_id[model_id] == got and [m["value"] for m in by_id[other_model]] == [0.7]
    # The run keeps every point, the model's too.
    history = await client.get(
        "/api/2.0/mlflow/metrics/get-history", params={"run_id": other_run, "metric_key": "loss"}
    )
    assert len((await ok(history))["metrics"]) == 3
    assert await backend.verify() == {}
    assert await backend.verify(shuffle=random.Random(3)) == {}
    await backend.rebuild()
    assert (await ok(await client.get(f"{MODELS}/{model_id}")))["model"]["data"]["metrics"] == got
    # A purged run takes its points off the model.
    await ok(await post(client, "runs/delete", {"run_id": other_run}))
    assert (await collect(backend, 0)).runs == 1
    left = (await ok(await client.get(f"{MODELS}/{model_id}")))["model"]["data"]["metrics"]
    assert [m["run_id"] for m in left] == [run_id]
    assert await backend.verify() == {}


async def test_search_reads_the_models_metrics_on_the_datasets_named(client) -> None:
    """As MLflow: a metric comparison holds when any of the model's points passes it, on
    the datasets named if any; datasets alone keep the models with a point on one."""
    exp_id = await new_experiment(client)
    run_id = await new_run(client, exp_id)
    first, second, bare = [await _model(client, exp_id) for _ in range(3)]
    points = [
        (first, "acc", 0.9, "test", "d1"),
        (first, "acc", 0.2, "train", "d2"),
        (second, "acc", 0.5, "test", "d3"),
    ]
    for step, (model_id, key, value, name, digest) in enumerate(points):
        body = {"run_id": run_id, "key": key, "value": value, "timestamp": 1, "step": step}
        extra = {"model_id": model_id, "dataset_name": name, "dataset_digest": digest}
        await ok(await post(client, "runs/log-metric", {**body, **extra}))

    async def found(**search) -> set[str]:
        body = {"experiment_ids": [exp_id], **search}
        got = await ok(await client.post(f"{MODELS}/search", json=body))
        return {m["info"]["model_id"] for m in got.get("models", [])}

    assert await found() == {first, second, bare}
    assert await found(filter="metrics.acc > 0.4") == {first, second}
    assert await found(filter="metrics.acc < 0.3") == {first}
    assert await found(filter="metrics.acc IS NULL") == {bare}
    test = {"dataset_name": "test"}
    assert await found(filter="metrics.acc < 0.3", datasets=[test]) == set()
    assert await found(filter="metrics.acc > 0.4", datasets=[test]) == {first, second}
    assert await found(datasets=[test]) == {first, second}
    assert await found(datasets=[{"dataset_name": "test", "dataset_digest": "d3"}]) == {second}
    assert await found(datasets=[{"dataset_name": "train"}, {"dataset_name": "nope"}]) == {first}
    refused = await client.post(
        f"{MODELS}/search", json={"experiment_ids": [exp_id], "datasets": [{"dataset_digest": "x"}]}
    )
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "dataset_name" in refused.json()["message"]
