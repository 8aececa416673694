"""trackledger's registry extensions under /api/2.0/trackledger: a registered model's history
(every change: who, when, what) and the registry as it was at a past moment.

A model is named by its current name (the live model of that name, else the most recently
deleted one) or by ``registered_model_id``, the id its history shows: a model renamed since
the moment asked about is found by its id or its new name.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import registry_render as rr
from trackledger.api import render
from trackledger.api.calls import backend, required
from trackledger.api.errors import ApiError
from trackledger.api.extensions import AS_OF_TIME_FROM
from trackledger.api.limits import page_size
from trackledger.api.registered_models import version_by_alias, version_text
from trackledger.api.registry_requests import AsOfModelRequest, ModelHistoryRequest
from trackledger.api.wire import read
from trackledger.eventlog import registry_validation as rv
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.registry_events import registered_model_stream
from trackledger.eventlog.store import StoredEvent
from trackledger.projections.history import describe
from trackledger.projections.registry_asof import RegistryAsOf, replayed
from trackledger.projections.registry_views import RegisteredModelView
from trackledger.projections.search import decode_page_token, encode_page_token

__all__ = ["routes"]

_PAGE = 10_000


async def _model_ids(request: Request, name: str | None, model_id: str | None) -> list[str]:
    """The models meant: by id, or every model now called ``name`` (the live one first)."""
    if model_id:
        return [model_id]
    checked = rv.check_model_name(required(name, "name"))
    found = await backend(request).registry.model_ids_named(checked)
    if not found:
        raise NotFound(f"Registered Model with name={checked} not found")
    return [found_id for found_id, _ in found]


async def history(request: Request) -> Response:
    """The model's events in log order: position, time, actor, type and what changed."""
    req = await read(request, ModelHistoryRequest)
    model_id = (await _model_ids(request, req.name, req.registered_model_id))[0]
    limit = page_size(req.max_results, default=100)
    after = decode_page_token(req.page_token)
    store = backend(request).store
    events = await store.read_stream(registered_model_stream(model_id), after, limit + 1)
    if not events and not after:
        raise NotFound(f"Registered model with id={model_id} not found")
    body: dict[str, Any] = {"registered_model_id": model_id}
    if events:
        body["events"] = [describe(s) for s in events[:limit]]
    if len(events) > limit:
        body["next_page_token"] = encode_page_token(events[limit - 1].position)
    return render.json_response(body)


async def _events_until(request: Request, model_id: str, as_of: int) -> list[StoredEvent]:
    stream = registered_model_stream(model_id)
    store = backend(request).store
    by_time = as_of >= AS_OF_TIME_FROM
    events: list[StoredEvent] = []
    after = 0
    while True:
        page = await store.read_stream(stream, after=after, limit=_PAGE)
        events.extend(s for s in page if (s.recorded_at if by_time else s.position) <= as_of)
        if len(page) < _PAGE:
            return events
        after = page[-1].position


async def _model_at(
    request: Request, req: AsOfModelRequest
) -> tuple[RegistryAsOf, RegisteredModelView]:
    """The registry replayed up to ``as_of`` and the model meant, as it was then. The caller
    closes the replay."""
    if req.as_of is None:
        raise ApiError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'as_of'.")
    for model_id in await _model_ids(request, req.name, req.registered_model_id):
        events = await _events_until(request, model_id, req.as_of)
        if not events:
            continue
        state = await replayed(events)
        view = await state.reads.model(model_id)
        if view is not None and view.deleted_time is None:
            if req.name is None or view.name == req.name:
                return state, view
        state.close()
    what = req.name if req.name is not None else req.registered_model_id
    raise NotFound(f"Registered Model {what} did not exist at {req.as_of}")


async def model_as_of(request: Request) -> Response:
    """The model exactly as registered-models/get answered at ``as_of`` (a time in ms, or
    below 10^11 a log position)."""
    req = await read(request, AsOfModelRequest)
    state, view = await _model_at(request, req)
    state.close()
    return render.json_response({"registered_model": rr.registered_model(view)})


async def alias_as_of(request: Request) -> Response:
    """The version an alias pointed at, as get-model-version-by-alias answered at ``as_of``."""
    req = await read(request, AsOfModelRequest)
    alias = rv.check_alias(required(req.alias, "alias"))
    state, view = await _model_at(request, req)
    try:
        found = await version_by_alias(state.reads, view, alias)
    finally:
        state.close()
    return render.json_response({"model_version": rr.model_version(found)})


async def version_as_of(request: Request) -> Response:
    """A version as model-versions/get answered at ``as_of``."""
    req = await read(request, AsOfModelRequest)
    number = rv.check_version(required(version_text(req.version), "version"))
    state, view = await _model_at(request, req)
    try:
        found = await state.reads.version(view.registered_model_id, number)
    finally:
        state.close()
    if found is None:
        raise NotFound(f"Model Version (name={view.name}, version={number}) not found")
    return render.json_response({"model_version": rr.model_version(found)})


routes = [
    Route("/registered-models/history", history, methods=["GET"]),
    Route("/registered-models/get", model_as_of, methods=["GET"]),
    Route("/registered-models/alias", alias_as_of, methods=["GET"]),
    Route("/model-versions/get", version_as_of, methods=["GET"]),
]
