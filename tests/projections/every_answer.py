"""Every read answer about what ``every_event.every_event_workload`` made.

``read_answers`` asks every read endpoint about it, as JSON, with what legitimately differs
between two stores (positions, each store's own Default experiment) left out.
"""

from __future__ import annotations

import typing
from typing import Any

import httpx

from tests.api.helpers import get, post
from tests.api.trace_helpers import API3
from tests.projections.every_event import API, METRIC_KEYS, TL, Made


def _without_default_times(value: Any) -> Any:
    """Each store makes its own Default experiment (id 0) at its own time: drop those times."""
    if isinstance(value, dict):
        out = {k: _without_default_times(v) for k, v in value.items()}
        if out.get("experiment_id") == "0":
            for key in ("creation_time", "last_update_time"):
                out.pop(key, None)
        return out
    if isinstance(value, list):
        return [_without_default_times(v) for v in value]
    return value


async def _answer(call: typing.Awaitable[httpx.Response]) -> Any:
    response = await call
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.status_code, _without_default_times(response.json())
    return response.status_code, response.text


def _history(answer: Any) -> Any:
    """A history without positions (an import numbers the log anew), and without the
    Default experiment's own creation."""
    status, data = answer
    events = [
        {k: v for k, v in event.items() if k != "position"}
        for event in data.get("events", [])
        if not (event["type"] == "experiment.created" and event["data"]["experiment_id"] == "0")
    ]
    return status, events


async def read_answers(client: httpx.AsyncClient, made: Made) -> dict[str, Any]:
    """What every read endpoint answers about everything in ``made``."""
    out: dict[str, Any] = {}
    exps = made.experiments
    for view in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        search = {"max_results": 1000, "view_type": view, "order_by": ["experiment_id"]}
        out[f"experiments/search {view}"] = await _answer(
            post(client, "experiments/search", search)
        )
        for order in ([], ["metrics.loss DESC", "params.p"], ["attributes.run_name"]):
            body = {"experiment_ids": exps, "run_view_type": view, "max_results": 1000}
            out[f"runs/search {view} {order}"] = await _answer(
                post(client, "runs/search", {**body, "order_by": order})
            )
    filtered = {"experiment_ids": exps, "filter": "metrics.loss < 0.5 and params.p != 'x'"}
    out["runs/search filtered"] = await _answer(post(client, "runs/search", filtered))
    for exp in exps:
        found = await _answer(get(client, "experiments/get", experiment_id=exp))
        out[f"experiments/get {exp}"] = found
        if found[0] == 200:
            name = found[1]["experiment"]["name"]
            out[f"get-by-name {name}"] = await _answer(
                get(client, "experiments/get-by-name", experiment_name=name)
            )
        params = {"experiment_id": exp, "expand": "true"}
        out[f"experiments/history {exp}"] = _history(
            await _answer(client.get(f"{TL}/experiments/history", params=params))
        )
    for run_id in made.runs:
        out.update(await _run_answers(client, run_id))
    for model in made.models:
        url = f"{API}/logged-models/{model}"
        out[f"logged-models/get {model}"] = await _answer(client.get(url))
        out[f"logged-models/get deleted {model}"] = await _answer(
            client.get(url, params={"allow_deleted": "true"})
        )
    models = {"experiment_ids": exps, "max_results": 100}
    out["logged-models/search"] = await _answer(
        client.post(f"{API}/logged-models/search", json=models)
    )
    out["registered-models/search"] = await _answer(
        client.get(f"{API}/registered-models/search", params={"max_results": 100})
    )
    out["model-versions/search"] = await _answer(
        client.get(f"{API}/model-versions/search", params={"filter": "name = 'classifier'"})
    )
    out["registered-models/get"] = await _answer(
        client.get(f"{API}/registered-models/get", params={"name": "classifier"})
    )
    out["registered-models/alias"] = await _answer(
        client.get(
            f"{API}/registered-models/alias", params={"name": "classifier", "alias": "champion"}
        )
    )
    out["registered-models/history"] = _history(
        await _answer(client.get(f"{TL}/registered-models/history", params={"name": "classifier"}))
    )
    for trace in made.traces:
        out[f"traces/get {trace}"] = await _answer(
            client.get(f"{API3}/traces/get", params={"trace_id": trace, "allow_partial": "true"})
        )
        out[f"traces v2 info {trace}"] = await _answer(client.get(f"{API}/traces/{trace}/info"))
        out[f"traces/history {trace}"] = _history(
            await _answer(
                client.get(f"{TL}/traces/history", params={"trace_id": trace, "expand": "true"})
            )
        )
    locations = [{"mlflow_experiment": {"experiment_id": e}} for e in exps]
    for text in ("", "feedback.ok = 'true'", "prompt = 'p/1'"):
        body = {"locations": locations, "filter": text, "max_results": 100}
        out[f"traces/search {text}"] = await _answer(
            client.post(f"{API3}/traces/search", json=body)
        )
    ids = {"experiment_ids": exps}
    out["run-counts"] = await _answer(client.get(f"{TL}/experiments/run-counts", params=ids))
    out["runs/keys"] = await _answer(client.get(f"{TL}/runs/keys", params=ids))
    csv = {"experiment_ids": exps, "run_view_type": "ALL"}
    out["runs/export-csv"] = await _answer(client.get(f"{TL}/runs/export-csv", params=csv))
    return out


async def _run_answers(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["runs/get"] = await _answer(get(client, "runs/get", run_id=run_id))
    params = {"run_id": run_id, "expand": "true"}
    history = _history(await _answer(client.get(f"{TL}/runs/history", params=params)))
    out["runs/history"] = history
    for event in history[1]:  # the run as of each of its events' times
        at = {"run_id": run_id, "as_of": event["time"]}
        out[f"as-of {event['time']}"] = await _answer(client.get(f"{TL}/runs/get", params=at))
    out["runs/tree"] = await _answer(client.get(f"{TL}/runs/tree", params={"run_id": run_id}))
    for key in METRIC_KEYS:
        out[f"history {key}"] = await _answer(
            get(client, "metrics/get-history", run_id=run_id, metric_key=key)
        )
        for axis in ("step", "timestamp"):
            sampled = {"run_id": run_id, "metric_key": key, "x_axis": axis}
            out[f"sampled {key} {axis}"] = await _answer(
                client.get(f"{TL}/metrics/sampled", params=sampled)
            )
    return {f"{name} {run_id}": answer for name, answer in out.items()}
