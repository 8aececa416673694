"""The registry scenario: register many model versions through the API, then time searches.

``--registry-models`` models (default 1,000) get ``--registry-versions`` versions each
(default 100: 100,000 versions), each version tagged; then every query asks for a page of
100 and runs ``--repeats x 20`` times one after the other; the table reports p50 and p95
latency and the page's size. Registering goes through the same endpoint the mlflow client
uses (model-versions/create), with a source that needs no run (``s3://``).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

import orjson
from loadgen import Connection, Planned, run_workers
from servers import start

API = "/api/2.0/mlflow"

#: (name, path, query parameters)
QUERIES: list[tuple[str, str, dict[str, object]]] = [
    ("versions: newest page", "model-versions/search", {}),
    ("versions: one model", "model-versions/search", {"filter": "name = 'model-0500'"}),
    ("versions: by run", "model-versions/search", {"filter": "run_id = 'run-00000'"}),
    ("versions: by tag", "model-versions/search", {"filter": "tags.k = '3'"}),
    ("versions: name prefix", "model-versions/search", {"filter": "name LIKE 'model-05%'"}),
    ("versions: by number", "model-versions/search", {"order_by": "version_number DESC"}),
    ("versions: by name", "model-versions/search", {"order_by": "name ASC"}),
    ("models: first page", "registered-models/search", {}),
    ("models: by tag", "registered-models/search", {"filter": "tags.team = 'a'"}),
    ("models: last updated", "registered-models/search", {"order_by": "timestamp DESC"}),
]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Loader:
    """Worker steps: first every model (``models``), then every version, one request each."""

    def __init__(self, models: int, versions: int) -> None:
        self.models = models
        self.versions = versions
        self.next_model = itertools.count()
        self.next_version = itertools.count()
        self.registered = 0

    def create_model(self, worker: int, _: int) -> Planned | None:
        index = next(self.next_model)
        if index >= self.models:
            return None
        body = {"name": f"model-{index:04d}", "tags": [{"key": "team", "value": "ab"[index % 2]}]}
        return Planned("POST", f"{API}/registered-models/create", body, 0)

    def register(self, worker: int, _: int) -> Planned | None:
        i = next(self.next_version)
        if i >= self.models * self.versions:
            return None
        # Interleaved over the models, as training jobs register independently.
        model, number = i % self.models, i // self.models
        body = {
            "name": f"model-{model:04d}",
            "source": f"s3://bucket/model-{model:04d}/{number}",
            "run_id": f"run-{(model * 7919 + number * 104729) % 20_000:05d}",
            "tags": [{"key": "k", "value": str(number % 10)}],
        }
        return Planned("POST", f"{API}/model-versions/create", body, 1, self._registered)

    def _registered(self, _: bytes) -> None:
        self.registered += 1
        if self.registered % 10_000 == 0:
            _progress(f"  registered {self.registered:,} versions")


async def _time_query(
    conn: Connection, path: str, params: dict[str, object], times: int
) -> tuple[list[float], int]:
    query = urllib.parse.urlencode({"max_results": 100, **params})
    latencies, found = [], 0
    for _ in range(times):
        started = time.perf_counter()
        status, data = await conn.request("GET", f"{API}/{path}?{query}")
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{path} {params} failed: {status} {data[:300]!r}")
        body = orjson.loads(data)
        found = len(body.get("model_versions", body.get("registered_models", [])))
    return latencies, found


async def run_registry(args: argparse.Namespace) -> str:
    total = args.registry_models * args.registry_versions
    lines = [
        f"registry: {args.registry_models:,} models x {args.registry_versions} versions "
        f"({total:,} versions), pages of 100, {args.repeats * 20} sequential requests per query",
        "",
        "| target | query | p50 ms | p95 ms | page |",
        "|---|---|---:|---:|---:|",
    ]
    for target in args.targets.split(","):
        server = await start(target, Path(args.workdir) / target / "registry", args.server_workers)
        try:
            # Registrations of one model are decided one after the other; a few workers keep
            # the server busy.
            workers = 4 if target.startswith("mlflow") else min(args.concurrency, 8)
            loader = Loader(args.registry_models, args.registry_versions)
            _progress(f"{target}: registering {total:,} versions through the API ...")
            started = time.perf_counter()
            loaded = await run_workers(
                server.port,
                workers,
                loader.create_model,
                seconds=24 * 3600,
                max_requests=args.registry_models + workers,
            )
            if not loaded.errors:
                loaded = await run_workers(
                    server.port,
                    workers,
                    loader.register,
                    seconds=24 * 3600,
                    max_requests=total + workers,
                )
            if loaded.errors:
                raise RuntimeError(f"loading failed: {loaded.first_errors}")
            elapsed = time.perf_counter() - started
            _progress(f"{target}: registered in {elapsed:.0f} s ({total / elapsed:,.0f}/s)")
            conn = Connection(server.port)
            for name, path, params in QUERIES:
                await _time_query(conn, path, params, 3)  # warm-up
                latencies, found = await _time_query(conn, path, params, args.repeats * 20)
                p95 = statistics.quantiles(latencies, n=20)[-1]
                shown = " ".join(f"{k}={v}" for k, v in params.items()) or "-"
                lines.append(
                    f"| {target} | {name}: `{shown}` | {statistics.median(latencies):.1f} "
                    f"| {p95:.1f} | {found} |"
                )
                _progress("  " + lines[-1])
            await conn.close()
        finally:
            server.stop()
    return "\n".join(lines)
