"""MLflow 3's logged-model endpoints and runs/outputs (reference sections 3.5 and 5.3)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import (
    backend,
    execute,
    experiment_id,
    experiment_ids,
    path_param,
    required,
)
from trackledger.api.limits import page_size
from trackledger.api.requests import TagWire
from trackledger.api.wire import Int64, read
from trackledger.eventlog import commands as c
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.events import ModelOutput
from trackledger.eventlog.results import ModelId
from trackledger.projections.search import decode_page_token, encode_page_token, parse_filter
from trackledger.projections.search.models import DatasetRef, model_matches
from trackledger.projections.views import LoggedModelView

__all__ = ["routes"]

_EMPTY = render.json_response({})


class CreateRequest(msgspec.Struct):
    experiment_id: str | None = None
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[TagWire] = []
    tags: list[TagWire] = []


class FinalizeRequest(msgspec.Struct):
    status: str | int | None = None


class TagsRequest(msgspec.Struct):
    tags: list[TagWire] = []


class ParamsRequest(msgspec.Struct):
    params: list[TagWire] = []


class OrderBy(msgspec.Struct):
    field_name: str | None = None
    ascending: bool = True


class DatasetWire(msgspec.Struct):
    dataset_name: str | None = None
    dataset_digest: str | None = None


class SearchRequest(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str | None = None
    datasets: list[DatasetWire] = []
    max_results: Int64 | None = None
    order_by: list[OrderBy] = []
    page_token: str | None = None


class OutputWire(msgspec.Struct):
    model_id: str | None = None
    step: Int64 | None = None


class OutputsRequest(msgspec.Struct):
    run_id: str | None = None
    models: list[OutputWire] = []


class GetRequest(msgspec.Struct):
    allow_deleted: bool = False


_STATUS_NUMBERS = {
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}


async def logged_model(
    request: Request, model_id: str, allow_deleted: bool = False
) -> LoggedModelView:
    """The logged model ``model_id`` (an active one unless ``allow_deleted``), or NotFound."""
    found = await backend(request).reads.logged_models([], model_id=model_id)
    if not found or (found[0].lifecycle_stage != "active" and not allow_deleted):
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    return found[0]


async def _model(request: Request, model_id: str, allow_deleted: bool = False) -> Response:
    model = await logged_model(request, model_id, allow_deleted)
    return render.json_response({"model": render.logged_model(model)})


def _pairs(items: list[TagWire]) -> list[c.TagIn]:
    return [c.TagIn(t.key, t.value) for t in items]


async def create(request: Request) -> Response:
    req = await read(request, CreateRequest)
    command = c.CreateLoggedModel(
        experiment_id=experiment_id(req.experiment_id),
        name=req.name,
        model_type=req.model_type,
        source_run_id=req.source_run_id,
        params=[c.ParamIn(p.key, p.value) for p in req.params],
        tags=_pairs(req.tags),
    )
    result = await execute(request, command)
    assert isinstance(result, ModelId)
    return await _model(request, result.model_id)


async def get(request: Request) -> Response:
    req = await read(request, GetRequest)
    return await _model(request, path_param(request, "model_id"), req.allow_deleted)


async def finalize(request: Request) -> Response:
    req = await read(request, FinalizeRequest)
    status = (
        _STATUS_NUMBERS.get(req.status, req.status) if isinstance(req.status, int) else req.status
    )
    model_id = path_param(request, "model_id")
    await execute(request, c.FinalizeLoggedModel(model_id=model_id, status=status))  # type: ignore[arg-type]
    return await _model(request, model_id)


async def delete(request: Request) -> Response:
    await execute(request, c.DeleteLoggedModel(model_id=path_param(request, "model_id")))
    return _EMPTY


async def set_tags(request: Request) -> Response:
    req = await read(request, TagsRequest)
    model_id = path_param(request, "model_id")
    await execute(request, c.SetLoggedModelTags(model_id=model_id, tags=_pairs(req.tags)))
    return _EMPTY


async def delete_tag(request: Request) -> Response:
    command = c.DeleteLoggedModelTag(
        model_id=path_param(request, "model_id"), key=path_param(request, "key")
    )
    await execute(request, command)
    return _EMPTY


async def log_params(request: Request) -> Response:
    req = await read(request, ParamsRequest)
    params = [c.ParamIn(p.key, p.value) for p in req.params]
    await execute(
        request, c.LogLoggedModelParams(model_id=path_param(request, "model_id"), params=params)
    )
    return _EMPTY


_ORDER_FIELDS = {
    "name": lambda m: m.name,
    "model_id": lambda m: m.model_id,
    "creation_timestamp": lambda m: m.creation_time or 0,
    "creation_time": lambda m: m.creation_time or 0,
    "last_updated_timestamp": lambda m: m.last_updated_time or 0,
    "last_updated_time": lambda m: m.last_updated_time or 0,
}


async def search(request: Request) -> Response:
    req = await read(request, SearchRequest)
    ids = experiment_ids(req.experiment_ids)
    limit = page_size(req.max_results, default=100)
    offset = decode_page_token(req.page_token)
    expr = parse_filter(req.filter)
    datasets = tuple(
        DatasetRef(required(d.dataset_name, f"datasets[{i}].dataset_name"), d.dataset_digest)
        for i, d in enumerate(req.datasets)
    )
    models: list[LoggedModelView] = [
        m for m in await backend(request).reads.logged_models(ids) if m.lifecycle_stage == "active"
    ]
    models = [m for m in models if model_matches(expr, m, datasets)]
    for order in reversed(req.order_by):
        key = _ORDER_FIELDS.get(order.field_name or "")
        if key is not None:
            models.sort(key=key, reverse=not order.ascending)
    page = models[offset : offset + limit]
    body: dict[str, object] = {}
    if page:
        body["models"] = [render.logged_model(m) for m in page]
    if len(models) > offset + limit:
        body["next_page_token"] = encode_page_token(offset + limit)
    return render.json_response(body)


async def log_outputs(request: Request) -> Response:
    req = await read(request, OutputsRequest)
    outputs = [
        ModelOutput(required(m.model_id, f"models[{i}].model_id"), m.step or 0)
        for i, m in enumerate(req.models)
    ]
    await execute(request, c.LogOutputs(run_id=required(req.run_id, "run_id"), models=outputs))
    return _EMPTY


routes = [
    Route("/logged-models", create, methods=["POST"]),
    Route("/logged-models/search", search, methods=["POST"]),
    Route("/logged-models/{model_id}", get, methods=["GET"]),
    Route("/logged-models/{model_id}", finalize, methods=["PATCH"]),
    Route("/logged-models/{model_id}", delete, methods=["DELETE"]),
    Route("/logged-models/{model_id}/tags", set_tags, methods=["PATCH"]),
    Route("/logged-models/{model_id}/tags/{key:path}", delete_tag, methods=["DELETE"]),
    Route("/logged-models/{model_id}/params", log_params, methods=["POST"]),
    Route("/runs/outputs", log_outputs, methods=["POST"]),
]
