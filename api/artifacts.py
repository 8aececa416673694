"""MLflow's artifact proxy (reference section 4.2), the tracking API's artifacts/list and a
logged model's artifacts (listed, and read one file at a time).

Uploads stream to the artifact store chunk by chunk, downloads stream from it: a file of
any size passes through a bounded amount of memory. Every path is checked by the store
(no ``..``, nothing absolute, nothing outside the root, no over-long names); its refusals
(``UnsafePath``, ``PathConflict``) are answered by the app's error handlers. A file stored
under a run's artifact root is recorded in the run's history (path, size, sha256).
"""

from __future__ import annotations

import mimetypes
import re

import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import backend, path_param, required
from trackledger.api.errors import ApiError
from trackledger.api.models import logged_model
from trackledger.api.requests import GetRunRequest
from trackledger.api.wire import read
from trackledger.eventlog import commands as c
from trackledger.eventlog.errors import NotFound
from trackledger.services.artifact_store import ArtifactStore, UnsafePath, clean
from trackledger.services.multipart import MultipartStore

__all__ = [
    "mlflow_path",
    "proxy_routes",
    "record_run_file",
    "send",
    "served_root",
    "server_info",
    "store_of",
    "tracking_routes",
]

_RUN_FILE = re.compile(r"^\d+/([0-9a-f]{32})/artifacts/(.+)$")
_SCHEME = "mlflow-artifacts:"


def store_of(request: Request) -> ArtifactStore:
    store: ArtifactStore | None = request.app.state.artifacts
    if store is None:
        raise ApiError(
            "ENDPOINT_NOT_FOUND",
            "This server does not serve artifacts (--no-serve-artifacts): clients read and "
            "write the experiment's artifact location directly.",
        )
    return store


async def _listing(
    store: ArtifactStore, path: str, prefix: str = ""
) -> list[dict[str, object]]:
    files = []
    for entry in await store.list(path):
        item: dict[str, object] = {"path": f"{prefix}{entry.name}", "is_dir": entry.is_dir}
        if entry.size:  # MLflow omits the size of directories and of empty files
            item["file_size"] = entry.size
        files.append(item)
    return files


async def upload(request: Request) -> Response:
    raw = request.path_params["path"]
    if raw.endswith("/"):
        raise ApiError("INVALID_PARAMETER_VALUE", "Invalid path: an artifact needs a file name")
    path = clean(raw)
    written = await store_of(request).write(path, request.stream())
    await record_run_file(request, path, written.size, written.sha256)
    return render.json_response({})


async def record_run_file(request: Request, path: str, size: int, sha256: str) -> None:
    """Note a stored file in its run's history, if ``path`` is under a run's root."""
    run_file = _RUN_FILE.match(path)
    if run_file is not None:
        run_id, relative = run_file.groups()
        record = c.RecordArtifact(run_id=run_id, path=relative, size=size, sha256=sha256)
        await backend(request).store.execute(record)


async def download(request: Request) -> Response:
    return await send(store_of(request), clean(request.path_params["path"]))


async def send(store: ArtifactStore, path: str) -> Response:
    found = await store.read(path)
    if found is None:
        if await store.is_dir(path):
            raise ApiError(
                "INVALID_PARAMETER_VALUE", "Artifact path refers to a directory, not a file"
            )
        raise NotFound(f"No such artifact: '{path}'")
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    headers = {"X-Content-Type-Options": "nosniff"}
    if found.path is not None:
        return FileResponse(found.path, media_type=media_type, filename=found.name, headers=headers)
    assert found.chunks is not None
    headers["Content-Length"] = str(found.size)
    headers["Content-Disposition"] = f'attachment; filename="{_quoted(found.name)}"'
    return StreamingResponse(found.chunks, media_type=media_type, headers=headers)


def _quoted(name: str) -> str:
    return name.replace("\\", "_").replace('"', "_").encode("ascii", "replace").decode()


async def listing(request: Request) -> Response:
    path = clean(request.query_params.get("path", ""))
    files = await _listing(store_of(request), path)
    return render.json_response({"files": files} if files else {})


async def delete(request: Request) -> Response:
    path = clean(request.path_params["path"])
    if not path:
        raise ApiError("INVALID_PARAMETER_VALUE", "Invalid path: refusing to delete every artifact")
    await store_of(request).delete(path)
    return render.json_response({})


async def presigned(request: Request) -> Response:
    """Presigned downloads are not offered (``multipart_downloads_enabled`` is false)."""
    store_of(request)
    clean(request.path_params["path"])
    raise ApiError(
        "NOT_IMPLEMENTED",
        "Multipart download is not supported for the current artifact repository",
    )


async def tracking_list(request: Request) -> Response:
    """GET /api/2.0/mlflow/artifacts/list: paths relative to the run's artifact root."""
    req = await read(request, GetRunRequest)
    run_id = required(req.run_id or req.run_uuid, "run_id")
    run = await backend(request).reads.get_run(run_id)
    if run is None:
        raise NotFound(f"Run with id={run_id} not found")
    return await _root_listing(request, run.info.artifact_uri, request.query_params.get("path"))


def mlflow_path(path: str) -> str:
    """``path`` checked as the proxy checks every path (``clean``), refused in the words of
    MLflow's own routes, which say no more than "Invalid path"."""
    try:
        return clean(path)
    except UnsafePath:
        raise ApiError("INVALID_PARAMETER_VALUE", "Invalid path") from None


async def _root_listing(request: Request, uri: str, relative: str | None) -> Response:
    """The files under ``relative`` of an artifact root (a run's, a logged model's), with
    paths relative to the root; only the root's URI where this server does not serve it."""
    relative = mlflow_path(relative or "")
    body: dict[str, object] = {"root_uri": uri}
    root = _served_root(uri)
    if root is not None:
        location = f"{root}/{relative}" if relative else root
        prefix = f"{relative}/" if relative else ""
        files = await _listing(store_of(request), location, prefix)
        if files:
            body["files"] = files
    return render.json_response(body)


def _served_root(uri: str) -> str | None:
    """The store's path of an ``mlflow-artifacts:`` root (checked as any path is: an
    experiment's artifact location is its creator's choice); None for a root this server
    does not serve (``s3://``, ``file://``: clients use it directly)."""
    return clean(uri[len(_SCHEME) :].lstrip("/")) if uri.startswith(_SCHEME) else None


def served_root(uri: str, owner: str) -> str:
    """The store's path of an artifact root this server serves; refused, naming where the
    ``owner``'s artifacts are, for one it does not."""
    root = _served_root(uri)
    if root is None:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"The {owner}'s artifacts are at {uri}, which this server does not serve: read "
            "them from there.",
        )
    return root


class ModelListingRequest(msgspec.Struct):
    artifact_directory_path: str | None = None


class ModelFileRequest(msgspec.Struct):
    artifact_file_path: str | None = None


async def model_listing(request: Request) -> Response:
    """GET .../logged-models/{model_id}/artifacts/directories: as ``artifacts/list``, under
    the logged model's artifact root."""
    req = await read(request, ModelListingRequest)
    model = await logged_model(request, path_param(request, "model_id"))
    return await _root_listing(request, model.artifact_uri, req.artifact_directory_path)


async def model_file(request: Request) -> Response:
    """GET .../logged-models/{model_id}/artifacts/files?artifact_file_path=: one file of
    the logged model's artifacts (the UI's model pages read them)."""
    req = await read(request, ModelFileRequest)
    if not req.artifact_file_path:
        raise ApiError(
            "BAD_REQUEST", 'Request must include the "artifact_file_path" query parameter.'
        )
    model = await logged_model(request, path_param(request, "model_id"))
    path = mlflow_path(req.artifact_file_path)
    root = served_root(model.artifact_uri, "logged model")
    return await send(store_of(request), f"{root}/{path}")


async def server_info(request: Request) -> Response:
    """What MLflow's client probes for: multipart uploads when the store takes them (the
    client then sends files of 500 MB and more straight to storage); no presigned
    downloads."""
    store = request.app.state.artifacts
    return render.json_response(
        {
            "store_type": "trackledger",
            "workspaces_enabled": False,
            "multipart_uploads_enabled": isinstance(store, MultipartStore),
            "multipart_downloads_enabled": False,
            "artifact_serving_enabled": store is not None,
            "artifacts_presigned_only": False,
        }
    )


proxy_routes = [
    Route("/artifacts", listing, methods=["GET"]),
    Route("/artifacts/{path:path}", upload, methods=["PUT"]),
    Route("/artifacts/{path:path}", download, methods=["GET"]),
    Route("/artifacts/{path:path}", delete, methods=["DELETE"]),
    Route("/presigned/{path:path}", presigned, methods=["GET"]),
]
tracking_routes = [
    Route("/artifacts/list", tracking_list, methods=["GET"]),
    Route("/logged-models/{model_id}/artifacts/directories", model_listing, methods=["GET"]),
    Route("/logged-models/{model_id}/artifacts/files", model_file, methods=["GET"]),
]
