"""The artifact proxy's multipart uploads (``/mpu/create|complete|abort/<directory>``).

MLflow's client (``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD``, or the server's
``multipart_uploads_enabled``) sends a large file in parts straight to object storage:
``create`` begins the upload and answers one signed URL per part, the client PUTs each part
there, and ``complete`` assembles the parts from their ETags (``abort`` drops them). The URL
names the directory; the file's name is the last component of the body's ``path`` (the
client's local path), as in MLflow. A store that cannot do this (the local filesystem)
answers MLflow's "not supported", on which the client falls back to one streamed PUT.

A completed file under a run's artifact root is recorded in the run's history like a
proxied upload, with its size; its sha256 is left empty, since its bytes never pass here.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.artifacts import record_run_file, store_of
from trackledger.api.calls import required
from trackledger.api.errors import ApiError
from trackledger.api.wire import Int64, read
from trackledger.eventlog.validation import missing
from trackledger.services.artifact_store import ArtifactStore, clean
from trackledger.services.multipart import MAX_PARTS, MultipartStore, Part

__all__ = ["routes"]

#: MLflow's words, which its client looks for before falling back to a plain PUT.
NOT_SUPPORTED = "Multipart upload is not supported for the current artifact repository"


class CreateMultipartRequest(msgspec.Struct):
    path: str | None = None
    num_parts: Int64 | None = None


class PartWire(msgspec.Struct):
    part_number: Int64 | None = None
    etag: str | None = None
    #: The part's upload URL, which the client sends back; not needed here.
    url: str | None = None


class CompleteMultipartRequest(msgspec.Struct):
    path: str | None = None
    upload_id: str | None = None
    parts: list[PartWire] | None = None


class AbortMultipartRequest(msgspec.Struct):
    path: str | None = None
    upload_id: str | None = None


def _target(request: Request, local_path: str | None) -> str:
    """The stored file: the URL's directory, then the name of the client's file."""
    directory = clean(request.path_params["path"])
    local = required(local_path, "path")
    name = local.replace("\\", "/").rsplit("/", 1)[-1]  # a Windows client's path too
    if not name:
        raise ApiError("INVALID_PARAMETER_VALUE", "Invalid path: an artifact needs a file name")
    return clean(f"{directory}/{name}" if directory else name)


def _multipart(store: ArtifactStore) -> MultipartStore:
    if not isinstance(store, MultipartStore):
        raise ApiError("NOT_IMPLEMENTED", NOT_SUPPORTED)
    return store


async def create(request: Request) -> Response:
    store = store_of(request)
    req = await read(request, CreateMultipartRequest)
    path = _target(request, req.path)
    parts = req.num_parts or 0
    if not 0 <= parts <= MAX_PARTS:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"num_parts must be between 0 and {MAX_PARTS:,}, got {parts}",
        )
    begun = await _multipart(store).begin_multipart(path, parts)
    credentials = [{"url": url, "part_number": i} for i, url in enumerate(begun.urls, 1)]
    body: dict[str, object] = {"upload_id": begun.upload_id}
    if credentials:
        body["credentials"] = credentials
    return render.json_response(body)


def _parts(wire: list[PartWire] | None) -> list[Part]:
    if wire is None:
        raise missing("parts")
    if len(wire) > MAX_PARTS:
        raise ApiError("INVALID_PARAMETER_VALUE", f"At most {MAX_PARTS:,} parts, got {len(wire)}")
    parts = []
    for part in wire:
        number = part.part_number or 0
        if not 1 <= number <= MAX_PARTS:
            raise ApiError(
                "INVALID_PARAMETER_VALUE",
                f"part_number must be between 1 and {MAX_PARTS:,}, got {number}",
            )
        parts.append(Part(number=number, etag=required(part.etag, "etag")))
    return parts


async def complete(request: Request) -> Response:
    store = store_of(request)
    req = await read(request, CompleteMultipartRequest)
    path = _target(request, req.path)
    upload_id = required(req.upload_id, "upload_id")
    parts = _parts(req.parts)
    size = await _multipart(store).complete_multipart(path, upload_id, parts)
    await record_run_file(request, path, size, sha256="")
    return render.json_response({})


async def abort(request: Request) -> Response:
    store = store_of(request)
    req = await read(request, AbortMultipartRequest)
    path = _target(request, req.path)
    upload_id = required(req.upload_id, "upload_id")
    await _multipart(store).abort_multipart(path, upload_id)
    return render.json_response({})


routes = [
    Route("/mpu/create/{path:path}", create, methods=["POST"]),
    Route("/mpu/complete/{path:path}", complete, methods=["POST"]),
    Route("/mpu/abort/{path:path}", abort, methods=["POST"]),
]
