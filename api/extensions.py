"""trackledger's own endpoints under /api/2.0/trackledger: run trees and administration."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import actor, backend, experiment_id, required
from trackledger.api.errors import ApiError
from trackledger.api.limits import page_size
from trackledger.api.requests import (
    AsOfRequest,
    CollectRequest,
    EventsRequest,
    GetRunRequest,
    HistoryRequest,
)
from trackledger.api.wire import read
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.events import experiment_stream, run_stream
from trackledger.eventlog.trace_events import trace_stream
from trackledger.projections import as_of
from trackledger.projections.history import describe
from trackledger.projections.search import decode_page_token, encode_page_token
from trackledger.projections.views import RunTree
from trackledger.services.gc import collect, parse_duration

__all__ = ["routes"]

#: The longest ``older_than`` (about 285,000 years): beyond it, times leave 64 bits.
MAX_AGE_MS = 2**53


def _acyclic(path: list[str]) -> list[str]:
    """The path down to the run from as far up as no run repeats: a parentRunId tag is
    whatever a client set, so parents may go round in a circle (a run its own parent)."""
    seen: set[str] = set()
    kept: list[str] = []
    for run_id in reversed(path):
        if run_id in seen:
            break
        seen.add(run_id)
        kept.append(run_id)
    return kept[::-1]


def _tree_json(tree: RunTree, root: str) -> bytes:
    """The nested tree under ``root`` as JSON, each run once, children in the order of
    ``tree.nodes``. Written without recursion: a chain of nested runs may be far deeper
    than a JSON encoder recurses (orjson stops at 255 levels)."""
    nodes = {n.run_id: n for n in tree.nodes}
    children: dict[str, list[str]] = {}
    for n in tree.nodes:
        if n.parent_id in nodes and n.run_id != root:
            children.setdefault(n.parent_id, []).append(n.run_id)
    parts: list[bytes] = []
    seen = {root}
    todo: list[str | bytes] = [root]  # a run to write, or bytes to copy
    while todo:
        item = todo.pop()
        if isinstance(item, bytes):
            parts.append(item)
            continue
        n = nodes[item]
        fields = {
            "run_id": n.run_id,
            "run_name": n.run_name,
            "status": n.status,
            "lifecycle_stage": n.lifecycle_stage,
            "start_time": n.start_time,
        }
        parts.append(orjson.dumps(fields)[:-1] + b',"children":[')
        kids = [kid for kid in children.get(item, []) if kid not in seen]
        seen.update(kids)
        todo.append(b"]}")
        for i in range(len(kids) - 1, -1, -1):
            todo.append(kids[i])
            if i:
                todo.append(b",")
    return b"".join(parts)


async def run_tree(request: Request) -> Response:
    """The tree a run belongs to: ``root``, the ``path`` from the root down to the run, and
    the nested ``tree`` of every run under the root (deleted ones included, marked)."""
    req = await read(request, GetRunRequest)
    run_id = required(req.run_id or req.run_uuid, "run_id")
    tree = await backend(request).reads.run_tree(run_id)
    if tree is None:
        raise NotFound(f"Run with id={run_id} not found")
    path = _acyclic(tree.path)
    body = b'{"root":%b,"path":%b,"tree":%b}' % (
        orjson.dumps(path[0]),
        orjson.dumps(path),
        _tree_json(tree, path[0]),
    )
    return Response(body, media_type="application/json")


async def gc(request: Request) -> Response:
    """Purge now what was deleted longer ago than ``older_than`` (default: the retention)."""
    req = await read(request, CollectRequest)
    default_ms: int = request.app.state.retention_ms
    try:
        older_than = parse_duration(req.older_than) if req.older_than else default_ms
    except OverflowError:  # more digits than a float holds
        older_than = MAX_AGE_MS + 1
    except ValueError as exc:
        raise ApiError("INVALID_PARAMETER_VALUE", str(exc)) from None
    if older_than > MAX_AGE_MS:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value for parameter 'older_than': at most {MAX_AGE_MS // 86_400_000} days.",
        )
    done = await collect(
        backend(request), older_than, artifacts=request.app.state.artifacts, actor=actor(request)
    )
    body = {"runs_purged": done.runs, "experiments_purged": done.experiments}
    if done.traces:
        body["traces_purged"] = done.traces
    return render.json_response(body)


async def _history(request: Request, stream: str, req: HistoryRequest) -> Response:
    limit = page_size(req.max_results, default=100)
    after = decode_page_token(req.page_token)
    events = await backend(request).store.read_stream(stream, after=after, limit=limit + 1)
    body: dict[str, Any] = {}
    if events:
        body["events"] = [describe(s, req.expand) for s in events[:limit]]
    if len(events) > limit:
        body["next_page_token"] = encode_page_token(events[limit - 1].position)
    return render.json_response(body)


async def run_history(request: Request) -> Response:
    """A run's events in log order: position, time, actor, type and what changed."""
    req = await read(request, HistoryRequest)
    return await _history(request, run_stream(required(req.run_id, "run_id")), req)


async def experiment_history(request: Request) -> Response:
    req = await read(request, HistoryRequest)
    experiment_id(req.experiment_id)
    return await _history(request, experiment_stream(str(req.experiment_id)), req)


async def trace_history(request: Request) -> Response:
    """A trace's events in log order (span batches summarized unless expanded)."""
    req = await read(request, HistoryRequest)
    return await _history(request, trace_stream(required(req.trace_id, "trace_id")), req)


#: ``as_of`` values from here up are times (ms since the epoch, from 1973 on); below it,
#: log positions.
AS_OF_TIME_FROM = 10**11


async def run_as_of(request: Request) -> Response:
    """The run exactly as runs/get would have answered at ``as_of`` (a time in ms, or a
    log position): its events up to then, applied by the live projection code to tables
    of its own (``projections/as_of.py``)."""
    req = await read(request, AsOfRequest)
    run_id = required(req.run_id or req.run_uuid, "run_id")
    if req.as_of is None:
        raise ApiError("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'as_of'.")
    at = req.as_of
    moment = as_of.Moment(time=at) if at >= AS_OF_TIME_FROM else as_of.Moment(position=at)
    view = await as_of.run_as_of(backend(request).store, run_id, moment)
    if view is None:
        raise NotFound(f"Run with id={run_id} did not exist at {at}")
    return render.json_response({"run": render.run(view)})


async def events_feed(request: Request) -> Response:
    """Events after the cursor ``after``, in an order a consumer can resume from
    (``next_cursor``). With ``wait_ms``, an empty answer waits up to that long for news."""
    req = await read(request, EventsRequest)
    limit = min(page_size(req.limit, default=100, field="limit"), 10_000)
    wait = max(0, min(req.wait_ms or 0, 30_000)) / 1000
    deadline = asyncio.get_running_loop().time() + wait
    store = backend(request).store
    while True:
        events = await store.read_all(after=req.after, limit=limit)
        if events or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.02)
    body: dict[str, Any] = {"next_cursor": events[-1].cursor if events else (req.after or "")}
    if events:
        body["events"] = [{**describe(s, req.expand), "stream_id": s.stream_id} for s in events]
    return render.json_response(body)


routes = [
    Route("/runs/tree", run_tree, methods=["GET"]),
    Route("/runs/history", run_history, methods=["GET"]),
    Route("/runs/get", run_as_of, methods=["GET"]),
    Route("/experiments/history", experiment_history, methods=["GET"]),
    Route("/traces/history", trace_history, methods=["GET"]),
    Route("/events", events_feed, methods=["GET"]),
    Route("/admin/gc", gc, methods=["POST"]),
]
