"""trackledger's own endpoints under /api/2.0/trackledger: run trees and administration."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import actor, backend, required
from trackledger.api.errors import ApiError, endpoint
from trackledger.api.requests import CollectRequest, GetRunRequest
from trackledger.api.wire import read
from trackledger.eventlog.errors import NotFound
from trackledger.gc import collect, parse_duration
from trackledger.projections.views import RunTree

__all__ = ["routes"]


def _nested(tree: RunTree) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {
        n.run_id: {
            "run_id": n.run_id,
            "run_name": n.run_name,
            "status": n.status,
            "lifecycle_stage": n.lifecycle_stage,
            "start_time": n.start_time,
            "children": [],
        }
        for n in tree.nodes
    }
    for n in tree.nodes:
        if n.parent_id in nodes:
            nodes[n.parent_id]["children"].append(nodes[n.run_id])
    return nodes[tree.path[0]]


@endpoint
async def run_tree(request: Request) -> Response:
    """The tree a run belongs to: ``root``, the ``path`` from the root down to the run, and
    the nested ``tree`` of every run under the root (deleted ones included, marked)."""
    req = await read(request, GetRunRequest)
    run_id = required(req.run_id or req.run_uuid, "run_id")
    tree = await backend(request).reads.run_tree(run_id)
    if tree is None:
        raise NotFound(f"Run with id={run_id} not found")
    return render.json_response({"root": tree.path[0], "path": tree.path, "tree": _nested(tree)})


@endpoint
async def gc(request: Request) -> Response:
    """Purge now what was deleted longer ago than ``older_than`` (default: the retention)."""
    req = await read(request, CollectRequest)
    default_ms: int = request.app.state.retention_ms
    try:
        older_than = parse_duration(req.older_than) if req.older_than else default_ms
    except ValueError as exc:
        raise ApiError("INVALID_PARAMETER_VALUE", str(exc)) from None
    done = await collect(backend(request), older_than, actor=actor(request))
    return render.json_response({"runs_purged": done.runs, "experiments_purged": done.experiments})


routes = [
    Route("/runs/tree", run_tree, methods=["GET"]),
    Route("/admin/gc", gc, methods=["POST"]),
]
