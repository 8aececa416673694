"""Databricks' bulk delete and restore of runs by time (reference section 9)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import execute, experiment_id
from trackledger.api.requests import DeleteRunsRequest, RestoreRunsRequest
from trackledger.api.wire import read
from trackledger.eventlog import commands as c
from trackledger.eventlog.results import BulkResult

__all__ = ["routes"]


async def delete_runs(request: Request) -> Response:
    req = await read(request, DeleteRunsRequest)
    command = c.DeleteRunsByTime(
        experiment_id=experiment_id(req.experiment_id),
        max_timestamp_millis=req.max_timestamp_millis,
        max_runs=req.max_runs,
    )
    result = await execute(request, command)
    assert isinstance(result, BulkResult)
    return render.json_response({"runs_deleted": result.count})


async def restore_runs(request: Request) -> Response:
    req = await read(request, RestoreRunsRequest)
    command = c.RestoreRunsByTime(
        experiment_id=experiment_id(req.experiment_id),
        min_timestamp_millis=req.min_timestamp_millis,
        max_runs=req.max_runs,
    )
    result = await execute(request, command)
    assert isinstance(result, BulkResult)
    return render.json_response({"runs_restored": result.count})


routes = [
    Route("/databricks/runs/delete-runs", delete_runs, methods=["POST"]),
    Route("/databricks/runs/restore-runs", restore_runs, methods=["POST"]),
]
