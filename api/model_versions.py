"""MLflow's model version endpoints: create, get, update, transition-stage, delete, search,
get-download-uri and tags (model_registry.proto, ``ModelRegistryService``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import registry_render as rr
from trackledger.api import render
from trackledger.api.calls import backend, execute, required
from trackledger.api.registered_models import page_size, version_text
from trackledger.api.registry_requests import (
    CreateVersionRequest,
    SearchRequest,
    TransitionRequest,
    UpdateVersionRequest,
    VersionRequest,
    VersionTagRequest,
)
from trackledger.api.wire import read
from trackledger.eventlog import registry_commands as rc
from trackledger.eventlog import registry_validation as rv
from trackledger.eventlog.command_base import TagIn
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.results import ModelVersionRef
from trackledger.projections.registry_views import ModelVersionView
from trackledger.projections.search import decode_page_token, encode_page_token

__all__ = ["routes"]

_EMPTY = render.json_response({})
MAX_VERSIONS_PAGE = 200_000
DEFAULT_VERSIONS_PAGE = 200_000


def _not_found(name: str, version: int) -> NotFound:
    return NotFound(f"Model Version (name={name}, version={version}) not found")


async def version_named(
    request: Request, name: str | None, version: str | None
) -> ModelVersionView:
    """The (not deleted) version ``version`` of the model called ``name``, with its aliases."""
    checked = rv.check_model_name(name)
    number = rv.check_version(version)
    registry = backend(request).registry
    model = await registry.model_named(checked)
    found = None if model is None else await registry.version(model.registered_model_id, number)
    if found is None:
        raise _not_found(checked, number)
    return found


async def _answer(request: Request, result: object) -> Response:
    assert isinstance(result, ModelVersionRef)
    found = await backend(request).registry.version(result.registered_model_id, result.version)
    if found is None:  # deleted by someone else in between
        raise NotFound(f"Model version {result.version} not found")
    return render.json_response({"model_version": rr.model_version(found)})


async def create(request: Request) -> Response:
    req = await read(request, CreateVersionRequest)
    command = rc.CreateModelVersion(
        name=required(req.name, "name"),
        source=required(req.source, "source"),
        run_id=req.run_id,
        model_id=req.model_id,
        tags=[TagIn(t.key, t.value) for t in req.tags],
        run_link=req.run_link,
        description=req.description,
    )
    return await _answer(request, await execute(request, command))


async def get(request: Request) -> Response:
    req = await read(request, VersionRequest)
    found = await version_named(
        request, required(req.name, "name"), required(version_text(req.version), "version")
    )
    return render.json_response({"model_version": rr.model_version(found)})


async def update(request: Request) -> Response:
    req = await read(request, UpdateVersionRequest)
    command = rc.UpdateModelVersion(
        name=required(req.name, "name"),
        version=required(version_text(req.version), "version"),
        description=req.description,
    )
    return await _answer(request, await execute(request, command))


async def transition(request: Request) -> Response:
    req = await read(request, TransitionRequest)
    command = rc.TransitionModelVersionStage(
        name=required(req.name, "name"),
        version=required(version_text(req.version), "version"),
        stage=required(req.stage, "stage"),
        archive_existing_versions=req.archive_existing_versions,
    )
    return await _answer(request, await execute(request, command))


async def delete(request: Request) -> Response:
    req = await read(request, VersionRequest)
    command = rc.DeleteModelVersion(
        name=required(req.name, "name"), version=required(version_text(req.version), "version")
    )
    await execute(request, command)
    return _EMPTY


async def download_uri(request: Request) -> Response:
    req = await read(request, VersionRequest)
    found = await version_named(request, req.name, version_text(req.version))
    return render.json_response({"artifact_uri": found.storage_location or found.source})


async def search(request: Request) -> Response:
    req = await read(request, SearchRequest, lists=frozenset({"order_by"}))
    limit = page_size(req.max_results, DEFAULT_VERSIONS_PAGE, MAX_VERSIONS_PAGE)
    offset = decode_page_token(req.page_token)
    page = await backend(request).registry.search_versions(
        filter_text=req.filter, order_by=req.order_by, max_results=limit, offset=offset
    )
    body: dict[str, object] = {}
    versions = [rr.model_version(v) for v in page.items if isinstance(v, ModelVersionView)]
    if versions:
        body["model_versions"] = versions
    if page.next_offset is not None:
        body["next_page_token"] = encode_page_token(page.next_offset)
    return render.json_response(body)


async def set_tag(request: Request) -> Response:
    req = await read(request, VersionTagRequest)
    command = rc.SetModelVersionTag(
        name=required(req.name, "name"),
        version=required(version_text(req.version), "version"),
        key=required(req.key, "key"),
        value=req.value,
    )
    await execute(request, command)
    return _EMPTY


async def delete_tag(request: Request) -> Response:
    req = await read(request, VersionTagRequest)
    command = rc.DeleteModelVersionTag(
        name=required(req.name, "name"),
        version=required(version_text(req.version), "version"),
        key=required(req.key, "key"),
    )
    await execute(request, command)
    return _EMPTY


routes = [
    Route("/model-versions/create", create, methods=["POST"]),
    Route("/model-versions/get", get, methods=["GET"]),
    Route("/model-versions/update", update, methods=["PATCH"]),
    Route("/model-versions/transition-stage", transition, methods=["POST"]),
    Route("/model-versions/delete", delete, methods=["DELETE"]),
    Route("/model-versions/get-download-uri", download_uri, methods=["GET"]),
    Route("/model-versions/search", search, methods=["GET", "POST"]),
    Route("/model-versions/set-tag", set_tag, methods=["POST"]),
    Route("/model-versions/delete-tag", delete_tag, methods=["DELETE"]),
]
