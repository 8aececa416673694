from __future__ import annotations

import pytest

from tests.api.helpers import API, error, get, new_experiment, new_run, ok, post


async def run_data(client, run_id):
    return (await ok(await get(client, "runs/get", run_id=run_id)))["run"]


async def test_create_run_shape(client):
    exp_id = await new_experiment(client)
    body = {
        "experiment_id": exp_id,
        "user_id": "alice",
        "run_name": "bold-run",
        "start_time": 1732200000000,
        "tags": [
            {"key": "mlflow.user", "value": "alice"},
            {"key": "mlflow.source.type", "value": "LOCAL"},
        ],
    }
    run = (await ok(await post(client, "runs/create", body)))["run"]
    info = run["info"]
    assert len(info["run_id"]) == 32 and info["run_uuid"] == info["run_id"]
    assert info["experiment_id"] == exp_id
    assert info["run_name"] == "bold-run"
    assert info["user_id"] == "alice"
    assert info["status"] == "RUNNING"
    assert info["start_time"] == 1732200000000
    assert "end_time" not in info
    assert info["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/{info['run_id']}/artifacts"
    assert info["lifecycle_stage"] == "active"
    assert {"key": "mlflow.runName", "value": "bold-run"} in run["data"]["tags"]
    assert run["inputs"] == {} and run["outputs"] == {}
    fetched = await run_data(client, info["run_id"])
    assert fetched["info"] == info
    assert fetched["data"]["tags"] == run["data"]["tags"]


async def test_create_run_names(client):
    exp_id = await new_experiment(client)
    generated = (await ok(await post(client, "runs/create", {"experiment_id": exp_id})))["run"]
    name = generated["info"]["run_name"]
    assert name and len(name) <= 20 and name.count("-") == 2
    tagged = {"experiment_id": exp_id, "tags": [{"key": "mlflow.runName", "value": "from-tag"}]}
    assert (await ok(await post(client, "runs/create", tagged)))["run"]["info"][
        "run_name"
    ] == "from-tag"
    conflict = {**tagged, "run_name": "other"}
    error(await post(client, "runs/create", conflict), "INVALID_PARAMETER_VALUE", 400)


async def test_create_run_in_unknown_or_deleted_experiment(client, events):
    before = await events()
    error(
        await post(client, "runs/create", {"experiment_id": "42"}), "RESOURCE_DOES_NOT_EXIST", 404
    )
    error(await post(client, "runs/create", {"experiment_id": "x"}), "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


async def test_nested_runs_record_parent_and_root(client):
    exp_id = await new_experiment(client)
    root = await new_run(client, exp_id)
    child = await new_run(client, exp_id, tags=[{"key": "mlflow.parentRunId", "value": root}])
    grandchild = await new_run(client, exp_id, tags=[{"key": "mlflow.parentRunId", "value": child}])
    for run_id in (child, grandchild):
        tags = {t["key"]: t["value"] for t in (await run_data(client, run_id))["data"]["tags"]}
        assert tags["mlflow.rootRunId"] == root


async def test_log_metric_param_tag_and_read_back(client):
    run_id = await new_run(client, await new_experiment(client))
    ids = {"run_id": run_id, "run_uuid": run_id}
    await ok(
        await post(
            client,
            "runs/log-metric",
            {**ids, "key": "loss", "value": 0.5, "timestamp": 10, "step": 1},
        )
    )
    await ok(
        await post(
            client,
            "runs/log-metric",
            {**ids, "key": "loss", "value": 0.9, "timestamp": 5, "step": 3},
        )
    )
    await ok(
        await post(
            client,
            "runs/log-metric",
            {**ids, "key": "loss", "value": 0.1, "timestamp": 20, "step": 2},
        )
    )
    await ok(await post(client, "runs/log-parameter", {**ids, "key": "lr", "value": "0.01"}))
    await ok(await post(client, "runs/set-tag", {**ids, "key": "team", "value": "vision"}))
    data = (await run_data(client, run_id))["data"]
    # Latest = highest step, then latest timestamp, then largest value: not the last written.
    assert data["metrics"] == [{"key": "loss", "value": 0.9, "timestamp": 5, "step": 3}]
    assert data["params"] == [{"key": "lr", "value": "0.01"}]
    assert {"key": "team", "value": "vision"} in data["tags"]


async def test_metric_history_order_and_pages(client):
    run_id = await new_run(client, await new_experiment(client))
    points = [(0.5, 30, 0), (0.4, 10, 2), (0.3, 10, 1), (0.2, 20, 0)]
    metrics = [{"key": "m", "value": v, "timestamp": t, "step": s} for v, t, s in points]
    await ok(await post(client, "runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    body = await ok(await get(client, "metrics/get-history", run_id=run_id, metric_key="m"))
    # MLflow's order: timestamp, step, value.
    assert [(m["timestamp"], m["step"]) for m in body["metrics"]] == [
        (10, 1),
        (10, 2),
        (20, 0),
        (30, 0),
    ]
    assert "next_page_token" not in body
    page = await ok(
        await get(client, "metrics/get-history", run_id=run_id, metric_key="m", max_results=3)
    )
    assert len(page["metrics"]) == 3
    rest = await ok(
        await get(
            client,
            "metrics/get-history",
            run_id=run_id,
            metric_key="m",
            max_results=3,
            page_token=page["next_page_token"],
        )
    )
    assert [m["timestamp"] for m in rest["metrics"]] == [30] and "next_page_token" not in rest
    # Unknown run or key: an empty answer, not a 404 (MLflow).
    assert await ok(await get(client, "metrics/get-history", run_id="f" * 32, metric_key="m")) == {}


async def test_nan_and_infinity_spellings(client):
    run_id = await new_run(client, await new_experiment(client))
    metrics = [
        {"key": "nan", "value": "NaN", "timestamp": "100", "step": "1"},
        {"key": "inf", "value": "Infinity", "timestamp": 100},
        {"key": "ninf", "value": "-Infinity", "timestamp": 100},
    ]
    await ok(await post(client, "runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    values = {m["key"]: m["value"] for m in (await run_data(client, run_id))["data"]["metrics"]}
    assert values == {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity"}
    history = await ok(await get(client, "metrics/get-history", run_id=run_id, metric_key="nan"))
    assert history["metrics"] == [{"key": "nan", "value": "NaN", "timestamp": 100, "step": 1}]


async def test_duplicate_metric_points_collapse(client):
    run_id = await new_run(client, await new_experiment(client))
    point = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 5, "step": 0}
    for _ in range(3):
        await ok(await post(client, "runs/log-metric", point))
    history = await ok(await get(client, "metrics/get-history", run_id=run_id, metric_key="m"))
    assert len(history["metrics"]) == 1


async def test_param_immutability(client, events):
    run_id = await new_run(client, await new_experiment(client))
    await ok(
        await post(client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    )
    # The same value again is fine (client retries depend on it).
    await ok(
        await post(client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    )
    before = await events()
    response = await post(
        client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}
    )
    message = error(response, "INVALID_PARAMETER_VALUE", 400)
    assert "Changing param values is not allowed" in message and "'0.1'" in message
    batch = {
        "run_id": run_id,
        "params": [{"key": "new", "value": "1"}, {"key": "lr", "value": "0.3"}],
        "metrics": [{"key": "m", "value": 1, "timestamp": 1}],
    }
    error(await post(client, "runs/log-batch", batch), "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before
    data = (await run_data(client, run_id))["data"]
    assert data["params"] == [{"key": "lr", "value": "0.1"}] and "metrics" not in data


async def test_duplicate_param_keys_in_one_batch(client, events):
    run_id = await new_run(client, await new_experiment(client))
    before = await events()
    batch = {"run_id": run_id, "params": [{"key": "a", "value": "1"}, {"key": "a", "value": "1"}]}
    message = error(await post(client, "runs/log-batch", batch), "INVALID_PARAMETER_VALUE", 400)
    assert "Duplicate parameter keys" in message
    assert await events() == before


@pytest.mark.parametrize(
    ("kind", "count"),
    [("metrics", 1001), ("params", 101), ("tags", 101)],
)
async def test_batch_limits(client, events, kind, count):
    run_id = await new_run(client, await new_experiment(client))
    items = {
        "metrics": [{"key": f"m{i}", "value": i, "timestamp": 1} for i in range(count)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(count)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(count)],
    }[kind]
    before = await events()
    message = error(
        await post(client, "runs/log-batch", {"run_id": run_id, kind: items}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    assert "at most" in message and kind in message
    assert await events() == before


async def test_batch_total_limit(client, events):
    run_id = await new_run(client, await new_experiment(client))
    batch = {
        "run_id": run_id,
        "metrics": [{"key": f"m{i}", "value": i, "timestamp": 1} for i in range(1000)],
        "params": [{"key": "p", "value": "v"}],
    }
    before = await events()
    error(await post(client, "runs/log-batch", batch), "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


_POINT = {"key": "m", "value": 1.5, "timestamp": 1}


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("runs/log-metric", {"key": "m", "timestamp": 1}, "'value'"),
        ("runs/log-metric", {"key": "m", "value": 1}, "'timestamp'"),
        ("runs/log-metric", {"value": 1, "timestamp": 1}, "'key'"),
        ("runs/log-metric", {"key": "m", "value": "abc", "timestamp": 1}, "'value'"),
        ("runs/log-metric", {"key": "m", "value": True, "timestamp": 1}, "'value'"),
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": -5}, "Timestamp"),
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 2**64}, "'timestamp'"),
        ("runs/log-metric", {"key": "m", "value": 1, "timestamp": 1, "step": "x"}, "'step'"),
        ("runs/log-metric", {"key": "bad/../key", "value": 1, "timestamp": 1}, "resolve"),
        ("runs/log-metric", {"key": "bad*key", "value": 1, "timestamp": 1}, "alphanumerics"),
        ("runs/log-metric", {"key": "k" * 251, "value": 1, "timestamp": 1}, "250"),
        ("runs/log-parameter", {"key": "", "value": "v"}, "'key'"),
        ("runs/log-parameter", {"key": "p", "value": 5}, "'value'"),
        ("runs/set-tag", {"key": "t", "value": ["list"]}, "'value'"),
        ("runs/log-batch", {"metrics": [{"key": "m", "value": 1}]}, "metrics[0].timestamp"),
        # A float value under a key accepted just before: the point's times are still checked.
        ("runs/log-batch", {"metrics": [_POINT, {**_POINT, "timestamp": -5}]}, "Timestamp"),
        ("runs/log-batch", {"metrics": [_POINT, {**_POINT, "step": 2**63}]}, "metrics[1].step"),
        ("runs/log-batch", {"metrics": [_POINT, {**_POINT, "timestamp": None}]}, "metrics[1]"),
        ("runs/log-batch", {"metrics": "not a list"}, "'metrics'"),
        ("runs/log-batch", {"params": [{"value": "v"}]}, "params[0].key"),
    ],
)
async def test_bad_values_are_400_and_append_nothing(client, events, path, body, needle):
    run_id = await new_run(client, await new_experiment(client))
    before = await events()
    message = error(
        await post(client, path, {"run_id": run_id, **body}), "INVALID_PARAMETER_VALUE", 400
    )
    assert needle in message, message
    assert await events() == before


async def test_long_param_and_tag_values_are_truncated(client):
    run_id = await new_run(client, await new_experiment(client))
    await ok(
        await post(
            client, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "x" * 7000}
        )
    )
    await ok(
        await post(client, "runs/set-tag", {"run_id": run_id, "key": "t", "value": "y" * 9000})
    )
    # Re-logging the same long value succeeds: both copies truncate to the same string.
    await ok(
        await post(
            client, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "x" * 7000}
        )
    )
    data = (await run_data(client, run_id))["data"]
    assert len(data["params"][0]["value"]) == 6000
    assert len({t["key"]: t["value"] for t in data["tags"]}["t"]) == 8000


@pytest.mark.parametrize(
    "path",
    [
        "runs/log-metric",
        "runs/log-parameter",
        "runs/set-tag",
        "runs/log-batch",
        "runs/update",
        "runs/delete-tag",
    ],
)
async def test_unknown_run_is_404_and_appends_nothing(client, events, path):
    before = await events()
    body = {"run_id": "0" * 32, "key": "k", "value": "1", "timestamp": 1}
    if path == "runs/log-metric":
        body["value"] = 1
    error(await post(client, path, body), "RESOURCE_DOES_NOT_EXIST", 404)
    assert await events() == before
    error(await get(client, "runs/get", run_id="0" * 32), "RESOURCE_DOES_NOT_EXIST", 404)


async def test_writes_to_a_deleted_run_are_refused(client, events):
    run_id = await new_run(client, await new_experiment(client))
    await ok(await post(client, "runs/delete", {"run_id": run_id}))
    before = await events()
    body = {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}
    message = error(await post(client, "runs/log-metric", body), "INVALID_PARAMETER_VALUE", 400)
    assert "must be in the 'active' state" in message
    assert await events() == before
    # A deleted run can still be read, and restored.
    assert (await run_data(client, run_id))["info"]["lifecycle_stage"] == "deleted"
    await ok(await post(client, "runs/restore", {"run_id": run_id}))
    await ok(await post(client, "runs/log-metric", body))


async def test_update_run(client):
    run_id = await new_run(client, await new_experiment(client))
    body = {"run_id": run_id, "run_uuid": run_id, "status": "FINISHED", "end_time": 5000}
    info = (await ok(await post(client, "runs/update", body)))["run_info"]
    assert info["status"] == "FINISHED" and info["end_time"] == 5000
    # No state machine: a finished run may run again (start_run(run_id=...) does this).
    info = (await ok(await post(client, "runs/update", {"run_id": run_id, "status": 1})))[
        "run_info"
    ]
    assert info["status"] == "RUNNING" and info["end_time"] == 5000
    info = (await ok(await post(client, "runs/update", {"run_id": run_id, "run_name": "renamed"})))[
        "run_info"
    ]
    assert info["run_name"] == "renamed"
    tags = {t["key"]: t["value"] for t in (await run_data(client, run_id))["data"]["tags"]}
    assert tags["mlflow.runName"] == "renamed"
    error(
        await post(client, "runs/update", {"run_id": run_id, "status": "DONE"}),
        "INVALID_PARAMETER_VALUE",
        400,
    )


async def test_set_tag_run_name_renames_and_delete_tag(client):
    run_id = await new_run(client, await new_experiment(client))
    await ok(
        await post(
            client, "runs/set-tag", {"run_id": run_id, "key": "mlflow.runName", "value": "via-tag"}
        )
    )
    assert (await run_data(client, run_id))["info"]["run_name"] == "via-tag"
    await ok(await post(client, "runs/set-tag", {"run_id": run_id, "key": "gone", "value": "x"}))
    await ok(await post(client, "runs/delete-tag", {"run_id": run_id, "key": "gone"}))
    tags = {t["key"] for t in (await run_data(client, run_id))["data"]["tags"]}
    assert "gone" not in tags
    error(
        await post(client, "runs/delete-tag", {"run_id": run_id, "key": "gone"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )


async def test_log_inputs(client):
    run_id = await new_run(client, await new_experiment(client))
    dataset = {
        "tags": [{"key": "mlflow.data.context", "value": "training"}],
        "dataset": {"name": "ds", "digest": "abc", "source_type": "local", "source": "/data"},
    }
    await ok(
        await post(client, "runs/log-inputs", {"run_id": run_id, "datasets": [dataset, dataset]})
    )
    inputs = (await run_data(client, run_id))["inputs"]
    assert inputs["dataset_inputs"] == [dataset]
    bad = {"run_id": run_id, "datasets": [{"dataset": {"name": "ds"}}]}
    error(await post(client, "runs/log-inputs", bad), "INVALID_PARAMETER_VALUE", 400)


async def test_search_datasets_lists_each_input_dataset_once(client):
    """The UI's dataset list (MLflow's experiments/search-datasets)."""
    exp_id, other = await new_experiment(client), await new_experiment(client, "other")
    for experiment, name, context in (
        (exp_id, "ds", "training"),
        (exp_id, "ds", "training"),
        (exp_id, "eval", None),
        (other, "elsewhere", None),
    ):
        run_id = await new_run(client, experiment)
        dataset = {"dataset": {"name": name, "digest": "d", "source_type": "s", "source": "x"}}
        if context:
            dataset["tags"] = [{"key": "mlflow.data.context", "value": context}]
        await ok(await post(client, "runs/log-inputs", {"run_id": run_id, "datasets": [dataset]}))
    found = await ok(
        await post(client, "experiments/search-datasets", {"experiment_ids": [exp_id]})
    )
    assert found == {
        "dataset_summaries": [
            {"experiment_id": exp_id, "name": "ds", "digest": "d", "context": "training"},
            {"experiment_id": exp_id, "name": "eval", "digest": "d"},
        ]
    }
    empty = await new_experiment(client, "empty")
    assert (
        await ok(await post(client, "experiments/search-datasets", {"experiment_ids": [empty]}))
        == {}
    )
    for body, needle in (
        ({}, "at least one experiment_id"),
        ({"experiment_ids": []}, "at least one experiment_id"),
        ({"experiment_ids": [str(i) for i in range(21)]}, "cannot specify more than 20"),
        ({"experiment_ids": ["nope"]}, "Invalid experiment ID"),
    ):
        response = await post(client, "experiments/search-datasets", body)
        assert needle in error(response, "INVALID_PARAMETER_VALUE", 400)


async def test_wire_spellings(client):
    exp_id = await new_experiment(client)
    # lowerCamel field names and int64 as strings are accepted.
    body = {"experimentId": exp_id, "startTime": "1234", "runName": "camel"}
    run = (await ok(await post(client, "runs/create", body)))["run"]
    assert run["info"]["start_time"] == 1234 and run["info"]["run_name"] == "camel"
    # A lowerCamel field in a body whose only capital letter is the field's own.
    run_id = run["info"]["run_id"]
    point = {"key": "m", "value": 1, "timestamp": 1}
    await ok(await post(client, "runs/log-batch", {"runId": run_id, "metrics": [point]}))
    assert (await run_data(client, run_id))["data"]["metrics"][0]["key"] == "m"
    # Both spellings of one field are refused.
    both = {"experiment_id": exp_id, "experimentId": exp_id}
    error(await post(client, "runs/create", both), "INVALID_PARAMETER_VALUE", 400)
    # A double-encoded body (a JSON string holding JSON) is decoded twice.
    import json

    response = await client.post(
        f"{API}/experiments/create",
        content=json.dumps(json.dumps({"name": "double"})),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200


async def test_malformed_requests(client, events):
    before = await events()
    response = await client.post(
        f"{API}/runs/create", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "Malformed JSON" in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await client.post(
        f"{API}/runs/create", content=b"[1, 2]", headers={"content-type": "application/json"}
    )
    error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await client.post(
        f"{API}/runs/create", content=b"{}", headers={"content-type": "text/plain"}
    )
    assert "Content-Type" in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await client.post(f"{API}/runs/create", content=b"{}")
    assert "Content-Type" in error(response, "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


async def test_unknown_route_is_endpoint_not_found(client):
    error(await client.get(f"{API}/runs/nope"), "ENDPOINT_NOT_FOUND", 404)


async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200 and response.text == "OK"
