"""MLflow's run endpoints (reference sections 3.2 and 3.3)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import (
    backend,
    execute,
    experiment_id,
    experiment_ids,
    required,
    run_status,
    view_type,
)
from trackledger.api.limits import page_size
from trackledger.api.requests import (
    CreateRunRequest,
    DeleteRunRequest,
    DeleteTagRequest,
    GetMetricHistoryRequest,
    GetRunRequest,
    LogBatchRequest,
    LogInputsRequest,
    LogMetricRequest,
    LogParamRequest,
    MetricWire,
    RunIdRequest,
    SearchRunsRequest,
    SetTagRequest,
    UpdateRunRequest,
)
from trackledger.api.wire import read
from trackledger.eventlog import commands as c
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.events import DatasetInput, Tag
from trackledger.eventlog.results import CreatedRun, RunInfo
from trackledger.projections.search import (
    decode_page_token,
    decode_run_page_token,
    encode_page_token,
)
from trackledger.projections.views import MetricValue, RunView

__all__ = ["routes"]

_EMPTY = render.json_response({})


def _run_id(req: RunIdRequest | LogMetricRequest) -> str:
    return required(req.run_id or req.run_uuid, "run_id")


def _metric(m: MetricWire) -> c.MetricIn:
    return c.MetricIn(
        m.key, m.value, m.timestamp, m.step, m.model_id, m.dataset_name, m.dataset_digest
    )


async def create(request: Request) -> Response:
    req = await read(request, CreateRunRequest)
    exp_id = experiment_id(req.experiment_id) if req.experiment_id else None
    result = await execute(
        request,
        c.CreateRun(
            experiment_id=exp_id,
            user_id=req.user_id,
            run_name=req.run_name,
            start_time=req.start_time,
            tags=[c.TagIn(t.key, t.value) for t in req.tags],
        ),
        user=req.user_id,
    )
    assert isinstance(result, CreatedRun)
    return render.json_response({"run": render.run_from_created(result.event)})


async def get(request: Request) -> Response:
    req = await read(request, GetRunRequest)
    run_id = _run_id(req)
    found = await backend(request).reads.get_run(run_id)
    if found is None:
        raise NotFound(f"Run with id={run_id} not found")
    return render.json_response({"run": render.run(found)})


async def update(request: Request) -> Response:
    req = await read(request, UpdateRunRequest)
    result = await execute(
        request,
        c.UpdateRun(
            run_id=_run_id(req),
            status=run_status(req.status),
            end_time=req.end_time,
            run_name=req.run_name,
        ),
    )
    assert isinstance(result, RunInfo)
    return render.json_response({"run_info": render.run_info(result.run)})


async def delete(request: Request) -> Response:
    req = await read(request, DeleteRunRequest)
    command = c.DeleteRun(run_id=_run_id(req), include_descendants=req.include_descendants)
    await execute(request, command)
    return _EMPTY


async def restore(request: Request) -> Response:
    req = await read(request, RunIdRequest)
    await execute(request, c.RestoreRun(run_id=_run_id(req)))
    return _EMPTY


async def log_metric(request: Request) -> Response:
    req = await read(request, LogMetricRequest)
    command = c.LogBatch(run_id=_run_id(req), metrics=[_metric(req)], shape="single")
    await execute(request, command)
    return _EMPTY


async def log_param(request: Request) -> Response:
    req = await read(request, LogParamRequest)
    command = c.LogBatch(
        run_id=_run_id(req), params=[c.ParamIn(req.key, req.value)], shape="single"
    )
    await execute(request, command)
    return _EMPTY


async def set_tag(request: Request) -> Response:
    req = await read(request, SetTagRequest)
    command = c.LogBatch(run_id=_run_id(req), tags=[c.TagIn(req.key, req.value)], shape="single")
    await execute(request, command)
    return _EMPTY


async def delete_tag(request: Request) -> Response:
    req = await read(request, DeleteTagRequest)
    await execute(request, c.DeleteRunTag(run_id=required(req.run_id, "run_id"), key=req.key))
    return _EMPTY


async def log_batch(request: Request) -> Response:
    req = await read(request, LogBatchRequest)
    command = c.LogBatch(
        run_id=required(req.run_id, "run_id"),
        metrics=[_metric(m) for m in req.metrics],
        params=[c.ParamIn(p.key, p.value) for p in req.params],
        tags=[c.TagIn(t.key, t.value) for t in req.tags],
    )
    await execute(request, command)
    return _EMPTY


async def log_inputs(request: Request) -> Response:
    req = await read(request, LogInputsRequest)
    datasets = []
    for i, item in enumerate(req.datasets):
        d = item.dataset
        if d is None:
            required(None, f"datasets[{i}].dataset")
            continue
        datasets.append(
            DatasetInput(
                name=d.name or "",
                digest=d.digest or "",
                source_type=d.source_type or "",
                source=d.source or "",
                schema=d.schema,
                profile=d.profile,
                tags=[Tag(t.key or "", t.value or "") for t in item.tags],
            )
        )
    command = c.LogInputs(
        run_id=required(req.run_id, "run_id"),
        datasets=datasets,
        model_ids=[m.model_id or "" for m in req.models],
    )
    await execute(request, command)
    return _EMPTY


async def search(request: Request) -> Response:
    req = await read(request, SearchRunsRequest, lists=frozenset({"experiment_ids", "order_by"}))
    exp_ids = experiment_ids(req.experiment_ids)
    limit = page_size(req.max_results, default=1000)
    offset, resume = decode_run_page_token(req.page_token)
    stages = view_type(req.run_view_type, "run_view_type")
    if not exp_ids:
        return _EMPTY
    page = await backend(request).reads.search_runs(
        experiment_ids=exp_ids,
        filter_text=req.filter,
        order_by=req.order_by,
        view_type=stages,
        max_results=limit,
        offset=offset,
        resume=resume,
    )
    body: dict[str, object] = {}
    runs = [render.run(r) for r in page.items if isinstance(r, RunView)]
    if runs:
        body["runs"] = runs
    if page.next_offset is not None:
        body["next_page_token"] = encode_page_token(page.next_offset, page.resume)
    return render.json_response(body)


async def metric_history(request: Request) -> Response:
    req = await read(request, GetMetricHistoryRequest)
    run_id = _run_id(req)
    key = required(req.metric_key, "metric_key")
    # As MLflow: pages only with max_results, which has no upper bound here (the client
    # asks for 25,000); a page token is read (and refused if bad) with or without it.
    limit = None if req.max_results is None else page_size(req.max_results, default=0, most=None)
    offset = decode_page_token(req.page_token)
    reads = backend(request).reads
    if limit is None:  # everything from the token's offset on
        page = await reads.metric_history(run_id, key, offset=0, limit=None)
        items = page.items[offset:]
    else:
        page = await reads.metric_history(run_id, key, offset=offset, limit=limit)
        items = page.items
    body: dict[str, object] = {}
    metrics = [render.metric(m) for m in items if isinstance(m, MetricValue)]
    if metrics:
        body["metrics"] = metrics
    if page.next_offset is not None:
        body["next_page_token"] = encode_page_token(page.next_offset)
    return render.json_response(body)


routes = [
    Route("/runs/create", create, methods=["POST"]),
    Route("/runs/get", get, methods=["GET"]),
    Route("/runs/update", update, methods=["POST"]),
    Route("/runs/delete", delete, methods=["POST"]),
    Route("/runs/restore", restore, methods=["POST"]),
    Route("/runs/search", search, methods=["POST"]),
    Route("/runs/log-metric", log_metric, methods=["POST"]),
    Route("/runs/log-parameter", log_param, methods=["POST"]),
    Route("/runs/set-tag", set_tag, methods=["POST"]),
    Route("/runs/delete-tag", delete_tag, methods=["POST"]),
    Route("/runs/log-batch", log_batch, methods=["POST"]),
    Route("/runs/log-inputs", log_inputs, methods=["POST"]),
    Route("/metrics/get-history", metric_history, methods=["GET"]),
]
