"""The artifact routes of MLflow's web UI that lie outside its REST API: a run's file
(``/get-artifact``), a registered model version's file (``/model-versions/get-artifact``)
and a file of up to 10 MB sent as a request's body into a run's artifacts
(``upload-artifact``). They read and write the store the artifact proxy serves; a root
this server does not serve (``s3://``, ``file://``) is refused with its URI.

A path is checked as every artifact path is (``artifact_store.clean``) and refused in
MLflow's words, "Invalid path", before anything is looked up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.artifacts import (
    mlflow_path,
    record_run_file,
    send,
    served_root,
    store_of,
)
from trackledger.api.calls import backend, required
from trackledger.api.errors import ApiError
from trackledger.api.model_versions import version_named
from trackledger.api.models import logged_model
from trackledger.api.registered_models import version_text
from trackledger.api.wire import read
from trackledger.eventlog.errors import NotFound
from trackledger.services.artifact_store import clean

__all__ = ["MAX_UPLOAD_BYTES", "routes", "upload_routes"]

#: The largest file upload-artifact takes, as in MLflow.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def _path(path: str | None) -> str:
    if not path:
        raise ApiError("INVALID_PARAMETER_VALUE", "Request must specify path.")
    return mlflow_path(path)


async def _run_root(request: Request, run_id: str) -> str:
    run = await backend(request).reads.get_run(run_id)
    if run is None:
        raise NotFound(f"Run with id={run_id} not found")
    return served_root(run.info.artifact_uri, "run")


class RunFileRequest(msgspec.Struct):
    path: str | None = None
    run_id: str | None = None
    run_uuid: str | None = None


async def run_file(request: Request) -> Response:
    """GET /get-artifact?run_id=&path=: one file of a run's artifacts."""
    req = await read(request, RunFileRequest)
    path = _path(req.path)
    root = await _run_root(request, required(req.run_id or req.run_uuid, "run_id"))
    return await send(store_of(request), f"{root}/{path}")


class VersionFileRequest(msgspec.Struct):
    name: str | None = None
    version: str | int | None = None
    path: str | None = None


async def version_file(request: Request) -> Response:
    """GET /model-versions/get-artifact?name=&version=&path=: one file of a model
    version's artifacts, under its storage location or source (a served root, a run's
    ``runs:/<id>/<path>`` or a logged model's ``models:/<id>``)."""
    req = await read(request, VersionFileRequest)
    path = _path(req.path)
    found = await version_named(request, req.name, version_text(req.version))
    uri = found.storage_location or found.source or ""
    if uri.startswith("runs:/"):
        run_id, _, below = uri[len("runs:/") :].partition("/")
        root, below = await _run_root(request, run_id), clean(below)
        root = f"{root}/{below}" if below else root
    elif uri.startswith("models:/m-"):
        model = await logged_model(request, uri[len("models:/") :].strip("/"))
        root = served_root(model.artifact_uri, "logged model")
    else:
        root = served_root(uri, "model version")
    return await send(store_of(request), f"{root}/{path}")


async def upload(request: Request) -> Response:
    """POST upload-artifact?run_uuid=&path=: the body, one file of up to
    ``MAX_UPLOAD_BYTES``, stored at ``path`` under the run's artifact root and recorded in
    the run's history."""
    query = request.query_params
    run_id = query.get("run_uuid")
    if not run_id:
        raise ApiError("INVALID_PARAMETER_VALUE", "Request must specify run_uuid.")
    path = _path(query.get("path"))
    if not path or query["path"].endswith("/"):
        raise ApiError("INVALID_PARAMETER_VALUE", "Invalid path: an artifact needs a file name")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(
                "INVALID_PARAMETER_VALUE", "Artifact size is too large. Max size is 10MB."
            )
    if not data:
        raise ApiError("INVALID_PARAMETER_VALUE", "Request must specify data.")
    target = f"{await _run_root(request, run_id)}/{path}"

    async def body() -> AsyncIterator[bytes]:
        yield bytes(data)

    written = await store_of(request).write(target, body())
    await record_run_file(request, target, written.size, written.sha256)
    return render.json_response({})


#: Served at the root, as MLflow serves them.
routes = [
    Route("/get-artifact", run_file, methods=["GET"]),
    Route("/model-versions/get-artifact", version_file, methods=["GET"]),
]
#: Served under /api/2.0/mlflow and /ajax-api/2.0/mlflow.
upload_routes = [Route("/upload-artifact", upload, methods=["POST"])]
