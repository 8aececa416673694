"""MLflow's registered model endpoints: create, get, rename, update, delete, search, tags,
aliases and get-latest-versions (model_registry.proto, ``ModelRegistryService``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import registry_render as rr
from trackledger.api import render
from trackledger.api.calls import backend, execute, required
from trackledger.api.registry_requests import (
    AliasRequest,
    CreateModelRequest,
    LatestVersionsRequest,
    ModelTagRequest,
    NameRequest,
    RenameRequest,
    SearchRequest,
    UpdateModelRequest,
)
from trackledger.api.wire import read
from trackledger.eventlog import registry_commands as rc
from trackledger.eventlog import registry_validation as rv
from trackledger.eventlog.command_base import TagIn
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.eventlog.results import RegisteredModelRef
from trackledger.projections.registry_reads import RegistryReads
from trackledger.projections.registry_views import ModelVersionView, RegisteredModelView
from trackledger.projections.search import decode_page_token, encode_page_token

__all__ = ["model_named", "page_size", "routes", "version_by_alias", "version_text"]

_EMPTY = render.json_response({})
MAX_MODELS_PAGE = 1000


def version_text(value: str | int | None) -> str | None:
    return str(value) if isinstance(value, int) else value


async def model_named(request: Request, name: str | None) -> RegisteredModelView:
    """The live model called ``name``, or MLflow's not-found error."""
    checked = rv.check_model_name(name)
    found = await backend(request).registry.model_named(checked)
    if found is None:
        raise NotFound(f"Registered Model with name={checked} not found")
    return found


async def _answer(request: Request, result: object) -> Response:
    assert isinstance(result, RegisteredModelRef)
    found = await backend(request).registry.model(result.registered_model_id)
    if found is None:  # deleted by someone else in between
        raise NotFound(f"Registered model {result.registered_model_id} not found")
    return render.json_response({"registered_model": rr.registered_model(found)})


async def create(request: Request) -> Response:
    req = await read(request, CreateModelRequest)
    command = rc.CreateRegisteredModel(
        name=required(req.name, "name"),
        tags=[TagIn(t.key, t.value) for t in req.tags],
        description=req.description,
    )
    return await _answer(request, await execute(request, command))


async def get(request: Request) -> Response:
    req = await read(request, NameRequest)
    found = await model_named(request, required(req.name, "name"))
    return render.json_response({"registered_model": rr.registered_model(found)})


async def rename(request: Request) -> Response:
    req = await read(request, RenameRequest)
    command = rc.RenameRegisteredModel(
        name=required(req.name, "name"), new_name=required(req.new_name, "new_name")
    )
    return await _answer(request, await execute(request, command))


async def update(request: Request) -> Response:
    req = await read(request, UpdateModelRequest)
    command = rc.UpdateRegisteredModel(
        name=required(req.name, "name"), description=req.description or ""
    )
    return await _answer(request, await execute(request, command))


async def delete(request: Request) -> Response:
    req = await read(request, NameRequest)
    await execute(request, rc.DeleteRegisteredModel(name=required(req.name, "name")))
    return _EMPTY


def page_size(value: int | None, default: int, most: int) -> int:
    if value is None:
        return default
    if value < 1:
        raise InvalidInput(
            f"Invalid value for max_results. It must be a positive integer, but got {value}"
        )
    if value > most:
        raise InvalidInput(
            "Invalid value for request parameter max_results. It must be at most "
            f"{most}, but got value {value}"
        )
    return value


async def search(request: Request) -> Response:
    req = await read(request, SearchRequest, lists=frozenset({"order_by"}))
    limit = page_size(req.max_results, 100, MAX_MODELS_PAGE)
    offset = decode_page_token(req.page_token)
    page = await backend(request).registry.search_models(
        filter_text=req.filter, order_by=req.order_by, max_results=limit, offset=offset
    )
    body: dict[str, object] = {}
    models = [rr.registered_model(m) for m in page.items if isinstance(m, RegisteredModelView)]
    if models:
        body["registered_models"] = models
    if page.next_offset is not None:
        body["next_page_token"] = encode_page_token(page.next_offset)
    return render.json_response(body)


async def latest_versions(request: Request) -> Response:
    req = await read(request, LatestVersionsRequest, lists=frozenset({"stages"}))
    found = await model_named(request, required(req.name, "name"))
    stages = (
        {rv.canonical_stage(stage) for stage in req.stages} if req.stages else set(rv.ALL_STAGES)
    )
    versions = await backend(request).registry.latest_in_stages(
        found.registered_model_id, sorted(stages)
    )
    body: dict[str, object] = {}
    if versions:
        body["model_versions"] = [rr.model_version(v) for v in versions]
    return render.json_response(body)


async def set_tag(request: Request) -> Response:
    req = await read(request, ModelTagRequest)
    command = rc.SetRegisteredModelTag(
        name=required(req.name, "name"), key=required(req.key, "key"), value=req.value
    )
    await execute(request, command)
    return _EMPTY


async def delete_tag(request: Request) -> Response:
    req = await read(request, ModelTagRequest)
    command = rc.DeleteRegisteredModelTag(
        name=required(req.name, "name"), key=required(req.key, "key")
    )
    await execute(request, command)
    return _EMPTY


async def set_alias(request: Request) -> Response:
    req = await read(request, AliasRequest)
    command = rc.SetRegisteredModelAlias(
        name=required(req.name, "name"),
        alias=required(req.alias, "alias"),
        version=required(version_text(req.version), "version"),
    )
    await execute(request, command)
    return _EMPTY


async def delete_alias(request: Request) -> Response:
    req = await read(request, AliasRequest)
    command = rc.DeleteRegisteredModelAlias(
        name=required(req.name, "name"), alias=required(req.alias, "alias")
    )
    await execute(request, command)
    return _EMPTY


async def version_by_alias(
    registry: RegistryReads, model: RegisteredModelView, alias: str
) -> ModelVersionView:
    """MLflow's get-model-version-by-alias: ``latest`` is the highest version."""
    if alias.lower() == "latest":
        versions = await registry.latest_in_stages(model.registered_model_id, rv.ALL_STAGES)
        if not versions:
            raise NotFound(f"Latest version not found for model {model.name}.")
        return max(versions, key=lambda v: v.version)
    number = await registry.alias(model.registered_model_id, alias)
    found = None if number is None else await registry.version(model.registered_model_id, number)
    if found is None:
        raise InvalidInput(f"Registered model alias {alias} not found.")
    return found


async def get_by_alias(request: Request) -> Response:
    req = await read(request, AliasRequest)
    name = rv.check_model_name(required(req.name, "name"))
    alias = rv.check_alias(required(req.alias, "alias"))
    model = await model_named(request, name)
    found = await version_by_alias(backend(request).registry, model, alias)
    return render.json_response({"model_version": rr.model_version(found)})


routes = [
    Route("/registered-models/create", create, methods=["POST"]),
    Route("/registered-models/get", get, methods=["GET"]),
    Route("/registered-models/rename", rename, methods=["POST"]),
    Route("/registered-models/update", update, methods=["PATCH"]),
    Route("/registered-models/delete", delete, methods=["DELETE"]),
    Route("/registered-models/search", search, methods=["GET", "POST"]),
    Route("/registered-models/get-latest-versions", latest_versions, methods=["GET", "POST"]),
    Route("/registered-models/set-tag", set_tag, methods=["POST"]),
    Route("/registered-models/delete-tag", delete_tag, methods=["DELETE"]),
    Route("/registered-models/alias", set_alias, methods=["POST"]),
    Route("/registered-models/alias", delete_alias, methods=["DELETE"]),
    Route("/registered-models/alias", get_by_alias, methods=["GET"]),
]
