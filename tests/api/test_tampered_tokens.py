"""Page tokens and event cursors are opaque to clients, and a client may send anything in
their place: a tampered token or cursor is a 400 INVALID_PARAMETER_VALUE on every endpoint
that takes one, never a 500 or a silent restart from the beginning."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.helpers import API, error, new_experiment, new_run, ok, post

TL = "/api/2.0/trackledger"


def _token(payload: object) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


TOKENS = {
    "offset 10**30": _token({"offset": 10**30}),
    "offset 2**63": _token({"offset": 2**63}),
    "offset 2**53 + 1": _token({"offset": 2**53 + 1}),
    "negative offset": _token({"offset": -1}),
    "string offset": _token({"offset": "10"}),
    "float offset": _token({"offset": 1.5}),
    "boolean offset": _token({"offset": True}),
    "null offset": _token({"offset": None}),
    "no offset": _token({"start": 10}),
    "a list": _token([10]),
    "resume not a list": _token({"offset": 10, "resume": {"value": 1}}),
    "resume of two": _token({"offset": 10, "resume": [1.5, 2]}),
    "resume at a string": _token({"offset": 10, "resume": ["x", 2, "d"]}),
    "resume at NaN": _token({"offset": 10, "resume": [float("nan"), 2, "d"]}),
    "resume at 2**63": _token({"offset": 10, "resume": [2**63, 2, "d"]}),
    "resume past its offset": _token({"offset": 10, "resume": [1.5, 11, "d"]}),
    "resume of a number": _token({"offset": 10, "resume": [1.5, 2, 7]}),
    "resume in a tail of 1": _token({"offset": 10, "resume": [1.5, 2, "d", 1]}),
    "resume of five": _token({"offset": 10, "resume": [1.5, 2, "d", True, 0]}),
    "not base64": "garbage!!",
    "base64 of garbage": base64.b64encode(b"\xff\xfe not json").decode(),
    "deeply nested": base64.b64encode(b"[" * 5000 + b"]" * 5000).decode(),
    "5000 digits": base64.b64encode(b'{"offset": ' + b"9" * 5000 + b"}").decode(),
}

#: Every endpoint that pages with MLflow's token: (method, path, request without token).
PAGED = {
    "runs/search": ("POST", f"{API}/runs/search", {"experiment_ids": ["{exp}"]}),
    "experiments/search": ("POST", f"{API}/experiments/search", {}),
    "logged-models/search": ("POST", f"{API}/logged-models/search", {"experiment_ids": ["{exp}"]}),
    "metrics/get-history": (
        "GET",
        f"{API}/metrics/get-history",
        {"run_id": "{run}", "metric_key": "m"},
    ),
    "metrics/get-history paged": (
        "GET",
        f"{API}/metrics/get-history",
        {"run_id": "{run}", "metric_key": "m", "max_results": 5},
    ),
    "runs/history": ("GET", f"{TL}/runs/history", {"run_id": "{run}"}),
    "experiments/history": ("GET", f"{TL}/experiments/history", {"experiment_id": "{exp}"}),
}


def _fill(request: dict, exp: str, run: str) -> dict:
    filled = {}
    for key, value in request.items():
        if isinstance(value, list):
            filled[key] = [v.replace("{exp}", exp) for v in value]
        elif isinstance(value, str):
            filled[key] = value.replace("{exp}", exp).replace("{run}", run)
        else:
            filled[key] = value
    return filled


async def _call(client, method: str, path: str, request: dict):
    if method == "GET":
        return await client.get(path, params=request)
    return await client.post(path, json=request)


@pytest.mark.parametrize("endpoint", sorted(PAGED))
async def test_a_tampered_page_token_is_a_400_on_every_paged_endpoint(client, endpoint):
    exp = await new_experiment(client)
    run = await new_run(client, exp)
    metric = {"run_id": run, "key": "m", "value": 1, "timestamp": 1, "step": 0}
    await ok(await post(client, "runs/log-metric", metric))
    method, path, request = PAGED[endpoint]
    request = _fill(request, exp, run)
    # A token the server could have written is read.
    good = await _call(client, method, path, {**request, "page_token": _token({"offset": 1})})
    assert good.status_code == 200, good.text
    problems = []
    for name, token in TOKENS.items():
        response = await _call(client, method, path, {**request, "page_token": token})
        if response.status_code != 400 or response.json().get("error_code") != (
            "INVALID_PARAMETER_VALUE"
        ):
            problems.append(f"{name}: {response.status_code} {response.text[:200]}")
    assert not problems, "\n".join(problems)


CURSORS = [
    "inf",
    "-inf",
    "nan",
    "True",
    "1e309",
    "1e3",
    str(2**63),
    str(10**30),
    "-1",
    "+1",
    "garbage",
    " 5",
    "5 ",
    "1_000",
    "0x10",
    "\u0665",  # an Arabic-Indic digit five: int() reads it, a cursor never holds one
    "5.",
    ".5",
    "1.2.3",
    "1." + str(2**63),
]


@pytest.mark.parametrize("cursor", CURSORS)
async def test_a_tampered_event_cursor_is_a_400(client, cursor):
    await new_experiment(client)
    response = await client.get(f"{TL}/events", params={"after": cursor})
    assert "cursor" in error(response, "INVALID_PARAMETER_VALUE", 400)


async def test_cursors_the_server_hands_out_still_work(client):
    await new_run(client, await new_experiment(client))
    cursor, types = "", []
    for _ in range(100):  # one event a page: each page's cursor resumes the next
        params = {"after": cursor, "limit": 1, "wait_ms": 2000}
        body = await ok(await client.get(f"{TL}/events", params=params))
        types += [e["type"] for e in body.get("events", [])]
        cursor = body["next_cursor"]
        if "run.created" in types:
            break
    assert types[-1] == "run.created" and "experiment.created" in types
    assert (await ok(await client.get(f"{TL}/events", params={"after": "0"})))["events"]


async def test_metric_history_pages_as_mlflow_does(client):
    run = await new_run(client, await new_experiment(client))
    metrics = [{"key": "m", "value": i, "timestamp": 100 + i, "step": i} for i in range(7)]
    await ok(await post(client, "runs/log-batch", {"run_id": run, "metrics": metrics}))
    history = f"{API}/metrics/get-history"
    query = {"run_id": run, "metric_key": "m"}
    # A bad token is refused with or without max_results (MLflow answers 400 for both).
    for extra in ({}, {"max_results": 3}):
        bad = await client.get(history, params={**query, **extra, "page_token": "garbage!!"})
        error(bad, "INVALID_PARAMETER_VALUE", 400)
    # Without max_results a token still sets where the answer starts, as in MLflow.
    rest = await ok(
        await client.get(history, params={**query, "page_token": _token({"offset": 5})})
    )
    assert [m["step"] for m in rest["metrics"]] == [5, 6] and "next_page_token" not in rest
    # max_results has no upper bound (MLflow's client asks for 25,000; others for more).
    everything = await ok(await client.get(history, params={**query, "max_results": 100_000}))
    assert [m["step"] for m in everything["metrics"]] == list(range(7))
    assert "next_page_token" not in everything
    for refused in (0, -1, 2**31):
        response = await client.get(history, params={**query, "max_results": refused})
        error(response, "INVALID_PARAMETER_VALUE", 400)
    page = await ok(await client.get(history, params={**query, "max_results": 4}))
    assert [m["step"] for m in page["metrics"]] == [0, 1, 2, 3]
    token = page["next_page_token"]
    page = await ok(
        await client.get(history, params={**query, "max_results": 4, "page_token": token})
    )
    assert [m["step"] for m in page["metrics"]] == [4, 5, 6] and "next_page_token" not in page
