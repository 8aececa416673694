"""Requests a hostile or broken client sends: bodies nested to any depth, NUL characters
in any string, numbers past what a field or a database holds. Each is a 400 with MLflow's
error body, on both backends, and appends nothing."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.helpers import API, error, new_experiment, new_run, ok, post
from trackledger.api.wire import MAX_NESTING

TL = "/api/2.0/trackledger"
JSON = {"content-type": "application/json"}


def _arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# Around the old failures: 500 to 1023 levels answered 500 (the parsers' recursion), and
# around the limit (64 levels).
DEPTHS = [MAX_NESTING + 1, 100, 499, 500, 700, 999, 1000, 1023, 1024, 1025, 5000, 100_000]

SHAPES = {
    # The whole body is the nesting.
    "arrays": lambda run_id, depth: _arrays(depth),
    "objects": lambda run_id, depth: _objects(depth),
    # A valid request with a deep field it does not read (the fast path's decoder).
    "unknown-field": lambda run_id, depth: (
        b'{"run_id": "' + run_id.encode() + b'", "junk": ' + _arrays(depth) + b"}"
    ),
    # The same, spelled in lowerCamel (the general path's decoder).
    "camel-unknown-field": lambda run_id, depth: (
        b'{"runId": "' + run_id.encode() + b'", "junk": ' + _objects(depth) + b"}"
    ),
    # Deep inside a field the handler reads.
    "in-metrics": lambda run_id, depth: (
        b'{"run_id": "' + run_id.encode() + b'", "metrics": ' + _arrays(depth) + b"}"
    ),
    # Double-encoded: a JSON string holding the deep JSON.
    "double-encoded": lambda run_id, depth: json.dumps(_arrays(depth).decode()).encode(),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_a_body_nested_at_any_depth_is_a_400(client, events, shape):
    run_id = await new_run(client, await new_experiment(client))
    before = await events()
    for depth in DEPTHS:
        body = SHAPES[shape](run_id, depth)
        post_ = await client.post(f"{API}/runs/log-batch", content=body, headers=JSON)
        # A GET with a JSON body, and a PATCH, read bodies too.
        get = await client.request("GET", f"{API}/runs/get", content=body, headers=JSON)
        patch = await client.patch(f"{API}/logged-models/m-1/tags", content=body)
        for response in (post_, get, patch):
            assert response.status_code == 400, (depth, response.request.method, response.text)
            error(response, "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


@pytest.mark.parametrize("depth", [1, 30, MAX_NESTING - 1])
async def test_nesting_up_to_the_limit_is_read_as_usual(client, events, depth):
    # In the body's own object, ``depth`` levels make ``depth + 1``.
    run_id = await new_run(client, await new_experiment(client))
    for junk in (_arrays(depth), _objects(depth)):
        for field in (b"run_id", b"runId"):
            body = b'{"' + field + b'": "' + run_id.encode() + b'", "junk": ' + junk + b"}"
            await ok(await client.post(f"{API}/runs/log-batch", content=body, headers=JSON))
    # A flat batch holds far more brackets than the limit, and no deep ones.
    metrics = [{"key": f"m{i}", "value": i, "timestamp": 1, "step": 0} for i in range(500)]
    await ok(await post(client, "runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    # Brackets inside strings, with and without escapes, are not nesting.
    params = [{"key": "p", "value": "]]]]{{{{" * 100}, {"key": "q", "value": '[\\"[' * 100}]
    await ok(await post(client, "runs/log-batch", {"run_id": run_id, "params": params}))


NUL = "a\x00b"

#: (method, path, request) pairs that each carry a NUL in one string; PostgreSQL cannot
#: store one (it answered 500) and SQLite stored it: both now refuse it alike.
NUL_CASES = {
    "experiment name": ("POST", "experiments/create", {"name": NUL}),
    "artifact location": ("POST", "experiments/create", {"name": "x", "artifact_location": NUL}),
    "experiment tag key": ("POST", "experiments/create", {"name": "y", "tags": [{"key": NUL}]}),
    "new name": ("POST", "experiments/update", {"experiment_id": "{exp}", "new_name": NUL}),
    "experiment tag": (
        "POST",
        "experiments/set-experiment-tag",
        {"experiment_id": "{exp}", "key": "k", "value": NUL},
    ),
    "experiment filter": ("POST", "experiments/search", {"filter": f"name = '{NUL}'"}),
    "order_by": ("POST", "experiments/search", {"order_by": [NUL]}),
    "run name": ("POST", "runs/create", {"experiment_id": "{exp}", "run_name": NUL}),
    "user id": ("POST", "runs/create", {"experiment_id": "{exp}", "user_id": NUL}),
    "run tag": (
        "POST",
        "runs/create",
        {"experiment_id": "{exp}", "tags": [{"key": "k", "value": NUL}]},
    ),
    "run id": ("POST", "runs/update", {"run_id": NUL}),
    "deleted run id": ("POST", "runs/delete", {"run_id": NUL}),
    "param value": (
        "POST",
        "runs/log-batch",
        {"run_id": "{run}", "params": [{"key": "p", "value": NUL}]},
    ),
    "metric key": (
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": NUL, "value": 1, "timestamp": 1, "step": 0},
    ),
    "tag value": ("POST", "runs/set-tag", {"run_id": "{run}", "key": "t", "value": NUL}),
    "run name tag": (
        "POST",
        "runs/set-tag",
        {"run_id": "{run}", "key": "mlflow.runName", "value": NUL},
    ),
    "dataset name": (
        "POST",
        "runs/log-inputs",
        {
            "run_id": "{run}",
            "datasets": [
                {"dataset": {"name": NUL, "digest": "d", "source_type": "s", "source": "x"}}
            ],
        },
    ),
    "run filter": (
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "filter": f"params.a = '{NUL}'"},
    ),
    "run id filter": (
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "filter": f"attributes.run_id IN ('{NUL}')"},
    ),
    "model name": ("POST", "logged-models", {"experiment_id": "{exp}", "name": NUL}),
    "get run": ("GET", "runs/get", {"run_id": NUL}),
    "experiment by name": ("GET", "experiments/get-by-name", {"experiment_name": NUL}),
    "history metric key": ("GET", "metrics/get-history", {"run_id": "{run}", "metric_key": NUL}),
    "artifact listing": ("GET", "artifacts/list", {"run_id": NUL}),
    "model id in the path": ("GET", "logged-models/a%00b", {}),
    "model tag key in the path": ("DELETE", "logged-models/m-1/tags/a%00b", {}),
    "run tree": ("GET", f"{TL}/runs/tree", {"run_id": NUL}),
    "run history": ("GET", f"{TL}/runs/history", {"run_id": NUL}),
    "sampled history": ("GET", f"{TL}/metrics/sampled", {"run_id": "{run}", "metric_key": NUL}),
    "csv filter": ("GET", f"{TL}/runs/export-csv", {"experiment_ids": "{exp}", "filter": NUL}),
}


def _fill(value, exp: str, run: str):
    if isinstance(value, str):
        return value.replace("{exp}", exp).replace("{run}", run)
    if isinstance(value, list):
        return [_fill(v, exp, run) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, exp, run) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", sorted(NUL_CASES))
async def test_a_nul_character_in_any_string_is_a_400(client, events, case):
    exp = await new_experiment(client)
    run = await new_run(client, exp)
    method, path, body = NUL_CASES[case]
    body = _fill(body, exp, run)
    url = path if path.startswith("/") else f"{API}/{path}"
    before = await events()
    if method == "GET":
        response = await client.get(url, params=body)
    else:
        response = await client.request(method, url, json=body)
    assert "NUL" in error(response, "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


async def test_a_nul_in_the_authenticated_user_or_idempotency_key_is_a_400(client, events):
    exp = await new_experiment(client)
    before = await events()
    user = base64.b64encode(b"a\x00b:secret").decode()
    response = await post(
        client, "runs/create", {"experiment_id": exp}, headers={"Authorization": f"Basic {user}"}
    )
    assert "NUL" in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(
        client, "runs/create", {"experiment_id": exp}, headers={"Idempotency-Key": "k\x00"}
    )
    error(response, "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


HUGE = 10**30


@pytest.mark.parametrize(
    "path, body",
    [
        ("runs/create", {"experiment_id": "{exp}", "start_time": HUGE}),
        ("runs/create", {"experiment_id": "{exp}", "start_time": 2**63}),
        ("runs/create", {"experiment_id": str(HUGE)}),
        ("runs/update", {"run_id": "{run}", "end_time": HUGE}),
        ("runs/update", {"run_id": "{run}", "status": HUGE}),
        ("runs/log-metric", {"run_id": "{run}", "key": "m", "value": 1, "timestamp": HUGE}),
        (
            "runs/log-batch",
            {"run_id": "{run}", "metrics": [{"key": "m", "value": 1, "step": -(2**64)}]},
        ),
        ("experiments/update", {"experiment_id": str(2**63), "new_name": "q"}),
        ("experiments/delete", {"experiment_id": str(HUGE)}),
        ("experiments/search", {"max_results": HUGE}),
        ("runs/search", {"experiment_ids": [str(HUGE)]}),
        ("runs/search", {"experiment_ids": ["{exp}"], "max_results": 2**31}),
        ("databricks/runs/delete-runs", {"experiment_id": "{exp}", "max_timestamp_millis": HUGE}),
        ("databricks/runs/delete-runs", {"experiment_id": "{exp}", "max_runs": 2**31}),
        (f"{TL}/admin/gc", {"older_than": "99999999999999999999d"}),
        (f"{TL}/admin/gc", {"older_than": "1" * 400 + "d"}),
        (f"{TL}/admin/gc", {"older_than": "300000000d"}),
    ],
)
async def test_numbers_past_what_a_field_holds_are_a_400(client, events, path, body):
    exp = await new_experiment(client)
    run = await new_run(client, exp)
    url = path if path.startswith("/") else f"{API}/{path}"
    before = await events()
    response = await client.post(url, json=_fill(body, exp, run))
    error(response, "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


@pytest.mark.parametrize(
    "path, params",
    [
        ("experiments/get", {"experiment_id": str(HUGE)}),
        ("experiments/get", {"experiment_id": "-1"}),
        ("metrics/get-history", {"run_id": "{run}", "metric_key": "m", "max_results": str(HUGE)}),
        (f"{TL}/runs/get", {"run_id": "{run}", "as_of": str(HUGE)}),
        (f"{TL}/experiments/history", {"experiment_id": str(HUGE)}),
        (f"{TL}/events", {"limit": str(HUGE)}),
        (f"{TL}/experiments/run-counts", {"experiment_ids": str(HUGE)}),
        (f"{TL}/metrics/sampled", {"run_id": "{run}", "metric_key": "m", "max_points": str(HUGE)}),
    ],
)
async def test_huge_numbers_in_a_query_are_a_400(client, path, params):
    exp = await new_experiment(client)
    run = await new_run(client, exp)
    url = path if path.startswith("/") else f"{API}/{path}"
    error(await client.get(url, params=_fill(params, exp, run)), "INVALID_PARAMETER_VALUE", 400)
