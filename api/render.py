"""Render read-model views as MLflow's JSON (reference sections 1.3 and 2).

int64 as numbers; NaN and infinities as the strings "NaN", "Infinity", "-Infinity"; unset
optional fields and empty lists omitted; ``inputs`` and ``outputs`` always present.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.responses import Response

from trackledger.eventlog.events import DatasetInput, ModelOutput, RunCreated, Tag
from trackledger.eventlog.lookups import RunState
from trackledger.projections.views import ExperimentView, LoggedModelView, MetricValue, RunView

__all__ = ["experiment", "json_response", "metric", "run", "run_from_created", "run_info"]


def json_response(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def wire_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _pairs(items: list[Any]) -> list[dict[str, str]]:
    return [{"key": item.key, "value": item.value} for item in items]


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is None or an empty list (MLflow omits those)."""
    if value is not None and value != []:
        target[key] = value


def metric(m: MetricValue) -> dict[str, Any]:
    return {"key": m.key, "value": wire_float(m.value), "timestamp": m.timestamp, "step": m.step}


def run_info(info: RunState) -> dict[str, Any]:
    out: dict[str, Any] = {"run_uuid": info.run_id, "experiment_id": info.experiment_id}
    _put(out, "run_name", info.run_name)
    _put(out, "user_id", info.user_id)
    out["status"] = info.status
    _put(out, "start_time", info.start_time)
    _put(out, "end_time", info.end_time)
    out["artifact_uri"] = info.artifact_uri
    out["lifecycle_stage"] = info.lifecycle_stage
    out["run_id"] = info.run_id
    return out


def _dataset(d: DatasetInput) -> dict[str, Any]:
    dataset: dict[str, Any] = {
        "name": d.name,
        "digest": d.digest,
        "source_type": d.source_type,
        "source": d.source,
    }
    _put(dataset, "schema", d.schema)
    _put(dataset, "profile", d.profile)
    out: dict[str, Any] = {"dataset": dataset}
    _put(out, "tags", _pairs(d.tags))
    return out


def _run(
    info: RunState,
    metrics: list[MetricValue],
    params: list[Any],
    tags: list[Tag],
    datasets: list[DatasetInput],
    model_ids: list[str],
    outputs: list[ModelOutput] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    _put(data, "metrics", [metric(m) for m in metrics])
    _put(data, "params", _pairs(params))
    _put(data, "tags", _pairs(tags))
    inputs: dict[str, Any] = {}
    _put(inputs, "dataset_inputs", [_dataset(d) for d in datasets])
    _put(inputs, "model_inputs", [{"model_id": m} for m in model_ids])
    produced: dict[str, Any] = {}
    _put(
        produced, "model_outputs", [{"model_id": o.model_id, "step": o.step} for o in outputs or []]
    )
    return {"info": run_info(info), "data": data, "inputs": inputs, "outputs": produced}


def run(view: RunView) -> dict[str, Any]:
    return _run(
        view.info,
        view.metrics,
        view.params,
        view.tags,
        view.datasets,
        view.model_ids,
        view.outputs,
    )


def logged_model(view: LoggedModelView) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": view.model_id,
        "experiment_id": view.experiment_id,
        "name": view.name,
        "artifact_uri": view.artifact_uri,
        "status": view.status,
    }
    _put(info, "creation_timestamp_ms", view.creation_time)
    _put(info, "last_updated_timestamp_ms", view.last_updated_time)
    _put(info, "source_run_id", view.source_run_id)
    _put(info, "model_type", view.model_type)
    _put(info, "tags", _pairs(view.tags))
    data: dict[str, Any] = {}
    _put(data, "params", _pairs(view.params))
    metrics = []
    for m in view.metrics:
        metric: dict[str, Any] = {
            "key": m.key,
            "value": wire_float(m.value),
            "timestamp": m.timestamp,
            "step": m.step,
            "model_id": view.model_id,
            "run_id": m.run_id,
        }
        _put(metric, "dataset_name", m.dataset_name)
        _put(metric, "dataset_digest", m.dataset_digest)
        metrics.append(metric)
    _put(data, "metrics", metrics)
    return {"info": info, "data": data}


def run_from_created(event: RunCreated) -> dict[str, Any]:
    """The run exactly as its creation made it (the answer of runs/create)."""
    info = RunState(
        run_id=event.run_id,
        experiment_id=event.experiment_id,
        run_name=event.run_name,
        user_id=event.user_id,
        status=event.status,
        start_time=event.start_time,
        end_time=None,
        artifact_uri=event.artifact_uri,
        lifecycle_stage="active",
    )
    tags = sorted(event.tags, key=lambda t: t.key)
    return _run(info, [], [], tags, [], [])


def experiment(view: ExperimentView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment_id": view.experiment_id,
        "name": view.name,
        "artifact_location": view.artifact_location,
        "lifecycle_stage": view.lifecycle_stage,
    }
    if view.last_update_time:
        out["last_update_time"] = view.last_update_time
    if view.creation_time:
        out["creation_time"] = view.creation_time
    _put(out, "tags", _pairs(view.tags))
    return out
