"""The metric histories MLflow's own UI asks for, several runs at once:
``metrics/get-history-bulk`` (every point, by run, time, step and value) and
``metrics/get-history-bulk-interval`` (each run's history sampled down, optionally within a
range of steps). Limits, checks and messages are MLflow 3.17.2's."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import backend, required
from trackledger.api.errors import ApiError
from trackledger.api.wire import Int64, read
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.validation import missing
from trackledger.projections.browse import HistoryPoint

__all__ = ["routes"]

#: get-history-bulk: run ids per request, and points per answer (a larger max_results is cut).
MAX_BULK_RUNS = 100
MAX_BULK_POINTS = 25_000
#: get-history-bulk-interval: run ids per request, and points per run.
MAX_INTERVAL_RUNS = 100
MAX_INTERVAL_POINTS = 2_500


class BulkRequest(msgspec.Struct):
    run_id: list[str] = []
    metric_key: str | None = None
    max_results: Int64 | None = None


class IntervalRequest(msgspec.Struct):
    run_ids: list[str] = []
    metric_key: str | None = None
    start_step: Int64 | None = None
    end_step: Int64 | None = None
    max_results: Int64 | None = None


def _invalid(message: str) -> ApiError:
    return ApiError("INVALID_PARAMETER_VALUE", message)


def _points(points: list[HistoryPoint], key: str) -> list[dict[str, object]]:
    return [
        {
            "key": key,
            "value": render.wire_float(p.value),
            "timestamp": p.timestamp,
            "step": p.step,
            "run_id": p.run_id,
        }
        for p in points
    ]


async def history_bulk(request: Request) -> Response:
    req = await read(request, BulkRequest, lists=frozenset({"run_id"}))
    run_ids = list(dict.fromkeys(req.run_id))
    if not run_ids:
        raise _invalid("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise _invalid(
            f"GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    if req.metric_key is None:
        raise _invalid("GetMetricHistoryBulk request must specify a metric_key.")
    limit = MAX_BULK_POINTS if req.max_results is None else min(req.max_results, MAX_BULK_POINTS)
    points = await backend(request).browse.history_bulk(run_ids, req.metric_key, max(limit, 0))
    return render.json_response({"metrics": _points(points, req.metric_key)})


async def history_bulk_interval(request: Request) -> Response:
    req = await read(request, IntervalRequest, lists=frozenset({"run_ids"}))
    run_ids = list(dict.fromkeys(req.run_ids))
    if not run_ids:
        raise missing("run_ids")
    if len(req.run_ids) > MAX_INTERVAL_RUNS:
        raise _invalid(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_INTERVAL_RUNS} "
            f"run_ids. Received {len(req.run_ids)} run_ids."
        )
    key = required(req.metric_key, "metric_key")
    most = MAX_INTERVAL_POINTS if req.max_results is None else req.max_results
    if not 1 <= most <= MAX_INTERVAL_POINTS:
        raise _invalid(f"max_results must be between 1 and {MAX_INTERVAL_POINTS}.")
    steps: tuple[int, int] | None = None
    if req.start_step is not None and req.end_step is not None:
        if req.start_step > req.end_step:
            raise _invalid(
                "end_step must be greater than start_step. Found "
                f"start_step={req.start_step} and end_step={req.end_step}."
            )
        steps = (req.start_step, req.end_step)
    elif req.start_step is not None or req.end_step is not None:
        raise _invalid("If either start step or end step are specified, both must be specified.")
    browse = backend(request).browse
    unknown = set(run_ids) - await browse.existing_runs(run_ids)
    if unknown:
        raise NotFound(f"Run with id={min(unknown)} not found")
    points = [p for r in run_ids for p in await browse.history_sampled(r, key, most, steps)]
    return render.json_response({"metrics": _points(points, key)})


routes = [
    Route("/metrics/get-history-bulk", history_bulk, methods=["GET"]),
    Route("/metrics/get-history-bulk-interval", history_bulk_interval, methods=["GET"]),
]
