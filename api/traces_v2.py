"""The legacy v2 trace API under /api/2.0/mlflow (start, end, get info, search) and the
UI's trace data download, ``/ajax-api/2.0/mlflow/get-trace-artifact``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api import trace_wire as w
from trackledger.api.calls import backend, execute, experiment_id, path_param
from trackledger.api.traces import ids_param, info_or_404, params_of, search_page, state_name
from trackledger.eventlog import trace_commands as tc
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.results import TraceId
from trackledger.services.artifact_store import ArtifactStore, UnsafePath

__all__ = ["legacy_routes", "trace_data_routes"]

ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
TRACE_DATA_FILE = "traces.json"


async def _info_v2(request: Request, trace_id: str) -> Response:
    view = await info_or_404(request, trace_id)
    return render.json_response({"trace_info": w.trace_info_v2(view)})


async def start_trace_v2(request: Request) -> Response:
    data = await w.body(request)
    command = tc.StartTraceV2(
        experiment_id=experiment_id(w.text(data, "experiment_id")),
        timestamp_ms=w.integer(w.field(data, "timestamp_ms"), "timestamp_ms"),
        metadata=w.pairs(w.field(data, "request_metadata"), "request_metadata"),
        tags=w.pairs(w.field(data, "tags"), "tags"),
    )
    result = await execute(request, command)
    assert isinstance(result, TraceId)
    return await _info_v2(request, result.trace_id)


async def end_trace_v2(request: Request) -> Response:
    data = await w.body(request)
    trace_id = path_param(request, "request_id")
    command = tc.EndTraceV2(
        trace_id=trace_id,
        timestamp_ms=w.integer(w.field(data, "timestamp_ms"), "timestamp_ms"),
        state=state_name(w.field(data, "status", "TRACE_STATUS_UNSPECIFIED"), "status"),
        metadata=w.pairs(w.field(data, "request_metadata"), "request_metadata"),
        tags=w.pairs(w.field(data, "tags"), "tags"),
    )
    await execute(request, command)
    return await _info_v2(request, trace_id)


async def get_trace_info_v2(request: Request) -> Response:
    return await _info_v2(request, path_param(request, "request_id"))


async def search_traces_v2(request: Request) -> Response:
    params = await params_of(request)
    experiments = ids_param(w.field(params, "experiment_ids"), "experiment_ids")
    if not experiments:
        raise w.bad("Missing value for required parameter 'experiment_ids'.")
    items, token = await search_page(request, experiments, params)
    body: dict[str, Any] = {}
    if items:
        body["traces"] = [w.trace_info_v2(v) for v in items]
    if token:
        body["next_page_token"] = token
    return render.json_response(body)


async def _uploaded(request: Request, location: str | None) -> bytes | None:
    """The trace data a client uploaded to the artifact store, if it did."""
    store: ArtifactStore | None = request.app.state.artifacts
    if store is None or not location or not location.startswith("mlflow-artifacts:"):
        return None
    path = location[len("mlflow-artifacts:") :].strip("/") + f"/{TRACE_DATA_FILE}"
    try:
        found = await store.read(path)
    except UnsafePath:
        return None
    if found is None:
        return None
    if found.path is not None:
        return found.path.read_bytes()
    assert found.chunks is not None
    return b"".join([chunk async for chunk in found.chunks])


async def get_trace_artifact(request: Request) -> Response:
    """A trace's spans as MLflow's ``traces.json``: from the store, or the file a client
    uploaded when it could not send spans."""
    trace_id = request.query_params.get("request_id")
    if not trace_id:
        raise w.bad('Request must include the "request_id" query parameter.')
    view = await info_or_404(request, trace_id)
    spans = (await backend(request).traces.spans([trace_id])).get(trace_id)
    if spans:
        data = orjson.dumps({"spans": [w.span_dict(trace_id, s) for s in spans]}, default=str)
    else:
        found = await _uploaded(request, view.tags.get(ARTIFACT_LOCATION_TAG))
        if found is None:
            raise NotFound(f"Trace with ID '{trace_id}' has no span data.")
        data = found
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename={TRACE_DATA_FILE}"},
    )


legacy_routes = [
    Route("/traces", start_trace_v2, methods=["POST"]),
    Route("/traces", search_traces_v2, methods=["GET"]),
    Route("/traces/{request_id}", end_trace_v2, methods=["PATCH"]),
    Route("/traces/{request_id}/info", get_trace_info_v2, methods=["GET"]),
]

trace_data_routes = [Route("/get-trace-artifact", get_trace_artifact, methods=["GET"])]
