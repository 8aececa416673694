"""MLflow 3's trace API under /api/3.0/mlflow (and /ajax-api/3.0/mlflow), plus the trace
calls MLflow keeps under /api/2.0 that the 3.x client uses: tags, deletes, run links.

Paths and messages are those of ``service.proto`` (``StartTraceV3``, ``GetTraceInfoV3``,
``GetTrace``, ``BatchGetTraces``, ``SearchTracesV3``, ...), read from the mlflow 3.17.2
package; the answers follow MLflow's server (``handlers.py``).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api import trace_wire as w
from trackledger.api.calls import backend, execute, experiment_id, path_param
from trackledger.api.errors import ApiError
from trackledger.eventlog import trace_commands as tc
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.results import BulkResult
from trackledger.projections.search import decode_page_token, encode_page_token
from trackledger.projections.trace_reads import TraceInfoView

__all__ = [
    "ids_param",
    "info_or_404",
    "params_of",
    "search_page",
    "state_name",
    "trace_routes_v2",
    "trace_routes_v3",
    "trackledger_trace_routes",
]

_EMPTY = render.json_response({})
_STATE_NUMBERS = {0: "STATE_UNSPECIFIED", 1: "OK", 2: "ERROR", 3: "IN_PROGRESS"}
MAX_SEARCH_RESULTS = 500
SIZE_STATS = "mlflow.trace.sizeStats"
#: Waits before answering that a trace's spans are not all in yet (MLflow's server waits
#: the same: the client may still be sending them).
_PARTIAL_WAITS = (1.0, 2.0)


def state_name(value: Any, name: str = "state") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = _STATE_NUMBERS.get(value, value)
    if value == "TRACE_STATUS_UNSPECIFIED":
        value = "STATE_UNSPECIFIED"
    if not isinstance(value, str):
        raise w.bad(f"Invalid value {value!r} for parameter '{name}' supplied.")
    return value


async def info_or_404(request: Request, trace_id: str) -> TraceInfoView:
    found = await backend(request).traces.info(trace_id)
    if found is None:
        raise NotFound(f"Trace with ID '{trace_id}' not found.")
    return found


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value is None or value == "":
        return False
    raise w.bad(f"Invalid value {value!r} for a boolean parameter; use true or false.")


def _query(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


async def params_of(request: Request) -> dict[str, Any]:
    """A GET's parameters (lists as lists), or its JSON body when it has no query string."""
    if request.url.query:
        return {k: v if len(v) > 1 else v[0] for k, v in _query(request).items()}
    return await w.body(request)


def ids_param(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, str) for i in items):
        raise w.bad(f"Invalid value for parameter '{name}': expected a list of strings.")
    return list(items)


# -- create and read -----------------------------------------------------------------------


async def start_trace(request: Request) -> Response:
    data = await w.body(request)
    trace = w.field(data, "trace")
    if not isinstance(trace, dict):
        raise w.bad("Missing value for required parameter 'trace'.")
    info = w.field(trace, "trace_info", {})
    location = w.field(w.field(info, "trace_location", {}), "mlflow_experiment", {})
    assessments = w.field(info, "assessments", [])
    command = tc.StartTrace(
        trace_id=w.text(info, "trace_id") or "",
        experiment_id=experiment_id(w.text(location, "experiment_id"), "experiment_id"),
        request_time=w.timestamp_ms(w.field(info, "request_time"), "request_time") or 0,
        execution_duration=w.duration_ms(w.field(info, "execution_duration"), "execution_duration"),
        state=state_name(w.field(info, "state", "STATE_UNSPECIFIED")),
        client_request_id=w.text(info, "client_request_id"),
        request_preview=w.text(info, "request_preview"),
        response_preview=w.text(info, "response_preview"),
        metadata=w.pairs(w.field(info, "trace_metadata"), "trace_metadata"),
        tags=w.pairs(w.field(info, "tags"), "tags"),
        assessments=[w.assessment_in(a) for a in assessments]
        if isinstance(assessments, list)
        else [],
    )
    await execute(request, command)
    view = await info_or_404(request, command.trace_id)
    return render.json_response({"trace": {"trace_info": w.trace_info_v3(view)}})


async def get_trace_info(request: Request) -> Response:
    view = await info_or_404(request, path_param(request, "trace_id"))
    return render.json_response({"trace": {"trace_info": w.trace_info_v3(view)}})


def _expected_spans(view: TraceInfoView) -> int:
    try:
        stats = json.loads(view.metadata.get(SIZE_STATS, "{}"))
        return int(stats.get("num_spans", 0))
    except (TypeError, ValueError, AttributeError):
        return 0


async def _complete(request: Request, views: list[TraceInfoView]) -> list[TraceInfoView]:
    """The traces whose spans are all in (as many as the client said it sent)."""
    expected = {v.trace_id: _expected_spans(v) for v in views}
    counts = await backend(request).traces.span_counts([v.trace_id for v in views])
    return [v for v in views if counts.get(v.trace_id, 0) >= max(expected[v.trace_id], 1)]


def _trace_json(view: TraceInfoView, spans: list[Any]) -> dict[str, Any]:
    return {
        "trace_info": w.trace_info_v3(view),
        "spans": [w.span_json(view.trace_id, s) for s in spans],
    }


async def get_trace(request: Request) -> Response:
    params = await params_of(request)
    trace_id = w.text(params, "trace_id")
    if not trace_id:
        raise w.bad("Missing value for required parameter 'trace_id'.")
    allow_partial = _flag(w.field(params, "allow_partial"))
    view = await info_or_404(request, trace_id)
    if not allow_partial:
        for wait in (*_PARTIAL_WAITS, None):
            if await _complete(request, [view]) or not await _has_spans(request, trace_id):
                break
            if wait is None:
                raise NotFound(
                    f"Trace with ID {trace_id} is not fully exported yet, please try again later."
                )
            await asyncio.sleep(wait)
        view = await info_or_404(request, trace_id)
    spans = (await backend(request).traces.spans([trace_id])).get(trace_id, [])
    return render.json_response({"trace": _trace_json(view, spans)})


async def _has_spans(request: Request, trace_id: str) -> bool:
    return bool(await backend(request).traces.span_counts([trace_id]))


async def _scoped(request: Request, params: dict[str, Any]) -> list[TraceInfoView]:
    ids = ids_param(w.field(params, "trace_ids"), "trace_ids")
    if not ids:
        raise w.bad("Missing value for required parameter 'trace_ids'.")
    views = await backend(request).traces.infos(ids)
    scope = w.field(params, "experiment_ids")
    if scope is not None:
        allowed = set(ids_param(scope, "experiment_ids"))
        views = [v for v in views if v.experiment_id in allowed]
    return views


async def batch_get_traces(request: Request) -> Response:
    """Complete traces with their spans; traces still missing spans are left out."""
    views = await _complete(request, await _scoped(request, await params_of(request)))
    spans = await backend(request).traces.spans([v.trace_id for v in views])
    traces = [_trace_json(v, spans.get(v.trace_id, [])) for v in views]
    return render.json_response({"traces": traces} if traces else {})


async def batch_get_trace_infos(request: Request) -> Response:
    views = await _scoped(request, await w.body(request))
    infos = [w.trace_info_v3(v) for v in views]
    return render.json_response({"trace_infos": infos} if infos else {})


# -- search --------------------------------------------------------------------------------


def _max_results(value: Any) -> int:
    count = w.integer(value, "max_results")
    if count is None:
        return 100
    if count > MAX_SEARCH_RESULTS:
        raise w.bad(
            f"Invalid value {count} for parameter 'max_results' supplied. It must be at "
            f"most {MAX_SEARCH_RESULTS}."
        )
    if count <= 0:
        raise w.bad(f"Invalid value {count} for parameter 'max_results' supplied.")
    return count


def _order_by(value: Any) -> list[str]:
    return ids_param(value, "order_by")


async def search_page(
    request: Request, experiment_ids: list[str], params: dict[str, Any]
) -> tuple[list[TraceInfoView], str | None]:
    limit = _max_results(w.field(params, "max_results"))
    offset = decode_page_token(w.text(params, "page_token"))
    page = await backend(request).traces.search(
        experiment_ids=[int(experiment_id(e)) for e in experiment_ids],
        filter_text=w.text(params, "filter"),
        order_by=_order_by(w.field(params, "order_by")),
        max_results=limit,
        offset=offset,
    )
    token = encode_page_token(page.next_offset) if page.next_offset is not None else None
    return page.items, token


async def search_traces(request: Request) -> Response:
    data = await w.body(request)
    locations = w.field(data, "locations")
    if not isinstance(locations, list) or not locations:
        raise w.bad("Missing value for required parameter 'locations'.")
    experiments = []
    for location in locations:
        experiment = w.field(w.field(location, "mlflow_experiment", {}), "experiment_id")
        if experiment is not None:
            experiments.append(str(experiment))
    items, token = await search_page(request, experiments, data)
    body: dict[str, Any] = {}
    if items:
        body["traces"] = [w.trace_info_v3(v) for v in items]
    if token:
        body["next_page_token"] = token
    return render.json_response(body)


def _npmi(n11: float, n10: float, n01: float, n00: float, smoothing: float) -> float:
    """Normalized pointwise mutual information of a 2x2 table (MLflow's definition)."""
    a, b, c, d = n11 + smoothing, n10 + smoothing, n01 + smoothing, n00 + smoothing
    total, first, second = a + b + c + d, a + b, a + c
    if first <= 0 or second <= 0 or a <= 0:
        return math.nan
    if n10 == 0 and n01 == 0 and n00 == 0:
        return 1.0
    pmi = (math.log(a) + math.log(total)) - (math.log(first) + math.log(second))
    return max(-1.0, min(1.0, pmi / -(math.log(a) - math.log(total))))


def _correlation(total: int, first: int, second: int, joint: int) -> tuple[float, float]:
    if total <= 0 or first == 0 or second == 0:
        return math.nan, math.nan
    n10, n01 = first - joint, second - joint
    n00 = total - first - second + joint
    if min(joint, n10, n01, n00) < 0:
        return math.nan, math.nan
    plain = -1.0 if joint == 0 else _npmi(joint, n10, n01, n00, 0)
    return plain, _npmi(joint, n10, n01, n00, 0.5)


async def filter_correlation(request: Request) -> Response:
    """How two filters' matches go together among the traces: counts and NPMI."""
    data = await w.body(request)
    experiments = [
        int(experiment_id(e)) for e in ids_param(w.field(data, "experiment_ids"), "experiment_ids")
    ]
    first, second = w.text(data, "filter_string1"), w.text(data, "filter_string2")
    if not first or not second:
        raise w.bad("Missing value for required parameter 'filter_string1' or 'filter_string2'.")
    base = w.text(data, "base_filter")
    traces = backend(request).traces
    total = await traces.count(experiments, [base])
    count1 = await traces.count(experiments, [base, first])
    count2 = await traces.count(experiments, [base, second])
    joint = await traces.count(experiments, [base, first, second])
    npmi, smoothed = _correlation(total, count1, count2, joint)
    return render.json_response(
        {
            "npmi": w.number_json(npmi),
            "npmi_smoothed": w.number_json(smoothed),
            "filter1_count": count1,
            "filter2_count": count2,
            "joint_count": joint,
            "total_count": total,
        }
    )


# -- writes --------------------------------------------------------------------------------


async def delete_traces(request: Request) -> Response:
    data = await w.body(request)
    command = tc.DeleteTraces(
        experiment_id=experiment_id(w.text(data, "experiment_id")),
        max_timestamp_millis=w.integer(
            w.field(data, "max_timestamp_millis"), "max_timestamp_millis"
        ),
        max_traces=w.integer(w.field(data, "max_traces"), "max_traces"),
        trace_ids=ids_param(w.field(data, "request_ids"), "request_ids")
        or ids_param(w.field(data, "trace_ids"), "trace_ids"),
    )
    result = await execute(request, command)
    assert isinstance(result, BulkResult)
    return render.json_response({"traces_deleted": result.count})


def _trace_id(request: Request) -> str:
    name = "trace_id" if "trace_id" in request.path_params else "request_id"
    return path_param(request, name)


async def set_tag(request: Request) -> Response:
    data = await w.body(request)
    await execute(
        request,
        tc.SetTraceTag(
            trace_id=_trace_id(request), key=w.text(data, "key"), value=w.text(data, "value")
        ),
    )
    return _EMPTY


async def delete_tag(request: Request) -> Response:
    data = await params_of(request) if request.url.query else await w.body(request)
    await execute(request, tc.DeleteTraceTag(trace_id=_trace_id(request), key=w.text(data, "key")))
    return _EMPTY


async def link_to_run(request: Request) -> Response:
    data = await w.body(request)
    run_id = w.text(data, "run_id")
    if not run_id:
        raise w.bad("Missing value for required parameter 'run_id'.")
    trace_ids = ids_param(w.field(data, "trace_ids"), "trace_ids")
    await execute(request, tc.LinkTracesToRun(trace_ids=trace_ids, run_id=run_id))
    return _EMPTY


async def restore_traces(request: Request) -> Response:
    """trackledger's extension: deleted traces come back within the retention period."""
    data = await w.body(request)
    ids = ids_param(w.field(data, "trace_ids"), "trace_ids")
    if not ids:
        raise w.bad("Missing value for required parameter 'trace_ids'.")
    result = await execute(request, tc.RestoreTraces(trace_ids=ids))
    assert isinstance(result, BulkResult)
    return render.json_response({"traces_restored": result.count})


async def link_prompts(request: Request) -> Response:
    data = await w.body(request)
    trace_id = w.text(data, "trace_id")
    if not trace_id:
        raise w.bad("Missing value for required parameter 'trace_id'.")
    versions = w.field(data, "prompt_versions", [])
    if not isinstance(versions, list):
        raise w.bad("Invalid value for parameter 'prompt_versions': expected a list.")
    prompts = [f"{w.field(v, 'name', '')}/{w.field(v, 'version', '')}" for v in versions]
    await execute(request, tc.LinkPromptsToTrace(trace_id=trace_id, prompts=prompts))
    return _EMPTY


async def not_served(request: Request) -> Response:
    raise ApiError(
        "NOT_IMPLEMENTED",
        f"{request.method} {request.url.path} is not served by trackledger (see its README).",
    )


trace_routes_v3 = [
    Route("/traces", start_trace, methods=["POST"]),
    Route("/traces/get", get_trace, methods=["GET"]),
    Route("/traces/batchGet", batch_get_traces, methods=["GET"]),
    Route("/traces/batchGetInfos", batch_get_trace_infos, methods=["POST"]),
    Route("/traces/search", search_traces, methods=["POST"]),
    Route("/traces/delete-traces", delete_traces, methods=["POST"]),
    Route("/traces/calculate-filter-correlation", filter_correlation, methods=["POST"]),
    Route("/traces/metrics", not_served, methods=["POST"]),
    Route("/traces/{trace_id}", get_trace_info, methods=["GET"]),
    Route("/traces/{trace_id}/tags", set_tag, methods=["PATCH"]),
    Route("/traces/{trace_id}/tags", delete_tag, methods=["DELETE"]),
]

#: The trace calls of MLflow's /api/2.0 that are not the legacy v2 trace model.
trace_routes_v2 = [
    Route("/traces/delete-traces", delete_traces, methods=["POST"]),
    Route("/traces/link-to-run", link_to_run, methods=["POST"]),
    Route("/traces/link-prompts", link_prompts, methods=["POST"]),
    Route("/traces/{request_id}/tags", set_tag, methods=["PATCH"]),
    Route("/traces/{request_id}/tags", delete_tag, methods=["DELETE"]),
]


async def linked_runs(request: Request) -> Response:
    """trackledger's extension: the runs a trace ran under or was linked to."""
    trace_id = request.query_params.get("trace_id")
    if not trace_id:
        raise w.bad("Missing value for required parameter 'trace_id'.")
    view = await info_or_404(request, trace_id)
    runs = list(view.run_ids)
    source = view.metadata.get("mlflow.sourceRun")
    if source and source not in runs:
        runs.insert(0, source)
    return render.json_response({"run_ids": runs})


#: trackledger's own trace endpoints (under /api/2.0/trackledger).
trackledger_trace_routes = [
    Route("/traces/restore", restore_traces, methods=["POST"]),
    Route("/traces/runs", linked_runs, methods=["GET"]),
]
