"""Endpoints under /api/2.0/trackledger that the web UI reads beyond MLflow's API: run
counts per experiment, the keys an experiment's runs carry, metric histories downsampled for
charts (one run's, or one metric of many runs at once), and searches downloaded as CSV."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import backend, experiment_ids, required, view_type
from trackledger.api.errors import ApiError
from trackledger.api.requests import SearchRunsRequest
from trackledger.api.wire import Int32, read
from trackledger.eventlog.errors import NotFound
from trackledger.projections.browse import Axis
from trackledger.projections.search.pages import Resume
from trackledger.projections.views import Page, RunView

__all__ = ["routes"]

#: Points a chart asks for by default, and at most (a chart is a few thousand pixels wide).
DEFAULT_BUCKETS = 1000
MAX_BUCKETS = 10_000
#: Runs one metrics/sampled-runs request may ask for (a chart of a page of 500 runs).
MAX_SAMPLED_RUNS = 500
#: Runs fetched per search while writing a CSV download.
CSV_PAGE = 1000


class ExperimentIdsRequest(msgspec.Struct):
    experiment_ids: list[str] = []


class SampledHistoryRequest(msgspec.Struct):
    run_id: str | None = None
    metric_key: str | None = None
    x_axis: str = "step"
    max_points: Int32 | None = None


class SampledRunsRequest(msgspec.Struct):
    run_ids: list[str] = []
    metric_key: str | None = None
    x_axis: str = "step"
    max_points: Int32 | None = None


async def _experiment_ids(request: Request) -> list[int]:
    req = await read(request, ExperimentIdsRequest, lists=frozenset({"experiment_ids"}))
    return experiment_ids(req.experiment_ids, "experiment_ids")


async def run_counts(request: Request) -> Response:
    """``{"counts": {experiment_id: {"active": n, "deleted": n}}}``."""
    counts = await backend(request).browse.run_counts(await _experiment_ids(request))
    return render.json_response({"counts": {e: msgspec.to_builtins(c) for e, c in counts.items()}})


async def run_keys(request: Request) -> Response:
    """The param, metric and tag keys of the experiments' runs: the columns a table offers."""
    keys = await backend(request).browse.run_keys(await _experiment_ids(request))
    return render.json_response(msgspec.to_builtins(keys))


def _axis(x_axis: str) -> Axis:
    if x_axis not in ("step", "timestamp"):
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {x_axis!r} for parameter 'x_axis': use 'step' or 'timestamp'.",
        )
    return "step" if x_axis == "step" else "timestamp"


def _buckets(max_points: int | None) -> int:
    buckets = DEFAULT_BUCKETS if max_points is None else max_points
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {buckets} for parameter 'max_points': use 1 to {MAX_BUCKETS}.",
        )
    return buckets


async def sampled_history(request: Request) -> Response:
    """A metric's history in at most ``max_points`` buckets of the ``x_axis`` (step or
    timestamp), each with its lowest and highest value: long series keep their spikes."""
    req = await read(request, SampledHistoryRequest)
    run_id = required(req.run_id, "run_id")
    key = required(req.metric_key, "metric_key")
    axis = _axis(req.x_axis)
    buckets = _buckets(req.max_points)
    if await backend(request).reads.get_run(run_id) is None:
        raise NotFound(f"Run with id={run_id} not found")
    histories = await backend(request).browse.metric_histories(
        [run_id], key, axis=axis, buckets=buckets
    )
    h = histories[run_id]
    low, high = _wire_floats(h.min), _wire_floats(h.max)
    return render.json_response(
        {
            "metric_key": key,
            "points": [
                {"step": s, "timestamp": t, "min": lo, "max": hi, "count": n}
                for s, t, lo, hi, n in zip(h.step, h.timestamp, low, high, h.count, strict=True)
            ],
        }
    )


def _wire_floats(values: list[float]) -> list[float | str]:
    """``values`` as MLflow's wire writes floats; a column of finite numbers (whose sum is
    finite: NaN and infinities make it NaN or infinite) goes as it is."""
    if math.isfinite(sum(values)):
        return values  # type: ignore[return-value]
    return [render.wire_float(v) for v in values]


async def sampled_runs(request: Request) -> Response:
    """One metric of several runs, each run's history downsampled as metrics/sampled does,
    in columns (``step``, ``timestamp``, ``min``, ``max``, ``count``): one request draws
    a chart of every run in view. Runs without the metric come back with empty columns."""
    req = await read(request, SampledRunsRequest, lists=frozenset({"run_ids"}))
    key = required(req.metric_key, "metric_key")
    axis = _axis(req.x_axis)
    buckets = _buckets(req.max_points)
    run_ids = list(dict.fromkeys(req.run_ids))
    if not run_ids:
        raise ApiError("INVALID_PARAMETER_VALUE", "Give at least one run_ids.")
    if len(run_ids) > MAX_SAMPLED_RUNS:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Too many run_ids ({len(run_ids)}): give at most {MAX_SAMPLED_RUNS}.",
        )
    browse = backend(request).browse
    missing = set(run_ids) - await browse.existing_runs(run_ids)
    if missing:
        raise NotFound(f"Run with id={min(missing)} not found")
    histories = await browse.metric_histories(run_ids, key, axis=axis, buckets=buckets)
    return render.json_response(
        {
            "metric_key": key,
            "runs": [
                {
                    "run_id": run_id,
                    "step": h.step,
                    "timestamp": h.timestamp,
                    "min": _wire_floats(h.min),
                    "max": _wire_floats(h.max),
                    "count": h.count,
                }
                for run_id, h in histories.items()
            ],
        }
    )


#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): such a
#: cell gets a leading single quote, and quotes around it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A plain number cannot be a formula: it stays as it is, so a spreadsheet reads a number.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _cell(value: str | float) -> str:
    """One CSV cell: numbers as numbers, text quoted as needed and defused."""
    if not isinstance(value, str):
        wire = render.wire_float(float(value))
        return wire if isinstance(wire, str) else repr(wire)
    if value.startswith(_FORMULA_START) and _PLAIN_NUMBER.fullmatch(value) is None:
        return "\"'" + value.replace('"', '""') + '"'
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_line(values: list[str | float]) -> str:
    return ",".join(_cell(v) for v in values) + "\n"


async def export_csv(request: Request) -> Response:
    """Every run a search finds, as CSV: run id, name, source type, source name, user and
    status, then a column per param and per metric (latest value) of the experiments."""
    req = await read(request, SearchRunsRequest, lists=frozenset({"experiment_ids", "order_by"}))
    exp_ids = experiment_ids(req.experiment_ids, "experiment_ids")
    if not exp_ids:
        raise ApiError("INVALID_PARAMETER_VALUE", "Give at least one experiment_ids.")
    stages = view_type(req.run_view_type, "run_view_type")
    reads = backend(request).reads

    async def search(offset: int, resume: Resume | None = None) -> Page:
        return await reads.search_runs(
            experiment_ids=exp_ids,
            filter_text=req.filter,
            order_by=req.order_by,
            view_type=stages,
            max_results=CSV_PAGE,
            offset=offset,
            resume=resume,
        )

    first = await search(0)  # a malformed filter is a 400 here, before any CSV is sent
    keys = await backend(request).browse.run_keys(exp_ids)

    def row(run: RunView) -> str:
        tags = {t.key: t.value for t in run.tags}
        params = {p.key: p.value for p in run.params}
        metrics: dict[str, str | float] = {m.key: m.value for m in run.metrics}
        return _csv_line(
            [
                run.info.run_id,
                run.info.run_name or "",
                tags.get("mlflow.source.type", ""),
                tags.get("mlflow.source.name", ""),
                run.info.user_id or "",
                run.info.status,
                *(params.get(k, "") for k in keys.params),
                *(metrics.get(k, "") for k in keys.metrics),
            ]
        )

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(
            [
                "Run ID",
                "Name",
                "Source Type",
                "Source Name",
                "User",
                "Status",
                *(f"params.{k}" for k in keys.params),
                *(f"metrics.{k}" for k in keys.metrics),
            ]
        )
        page = first
        while True:
            yield "".join(row(r) for r in page.items if isinstance(r, RunView))
            if page.next_offset is None:
                return
            # Each page resumes where the last ended, as a client's token says (a page at
            # its offset would read every run before it again).
            page = await search(page.next_offset, page.resume)

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="runs.csv"'},
    )


routes = [
    Route("/experiments/run-counts", run_counts, methods=["GET"]),
    Route("/runs/keys", run_keys, methods=["GET"]),
    Route("/metrics/sampled", sampled_history, methods=["GET"]),
    Route("/metrics/sampled-runs", sampled_runs, methods=["GET", "POST"]),
    Route("/runs/export-csv", export_csv, methods=["GET"]),
]
