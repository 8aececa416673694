"""Prometheus metrics at ``/metrics`` (``trackledger server --expose-prometheus``).

Requests and their latency by route template and status come from a middleware; the write
path's numbers (queue depth, groups, commit and fsync time, log position, database errors)
and the open connections are read from the store and the server when Prometheus scrapes,
so serving them costs nothing between scrapes. Each server process reports its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trackledger.api.calls import backend

__all__ = ["Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """One app's registry, its request middleware and its ``/metrics`` endpoint."""

    def __init__(self, open_connections: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "trackledger_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "trackledger_http_request_duration_seconds",
            "Time from request to the end of the answer, by method and route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.store = _StoreCollector(open_connections)
        self.registry.register(self.store)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def sent(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, sent)
            finally:
                route = _template(scope)
                method = scope["method"]
                self.requests.labels(method, route, str(status)).inc()
                self.latency.labels(method, route).observe(time.perf_counter() - started)

        return measured

    async def endpoint(self, request: Request) -> Response:
        self.store.backend = backend(request)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)


def _template(scope: Scope) -> str:
    """The route's path with its parameters named (``/…/logged-models/{model_id}``), so
    ids do not make a label value each; "unmatched" for paths no route serves."""
    if "endpoint" not in scope:
        return "unmatched"
    path: str = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        if value:
            path = path.replace(str(value), "{" + name + "}", 1)
    return path


class _StoreCollector(Collector):
    def __init__(self, open_connections: Callable[[], int] | None) -> None:
        self.backend: Any = None
        self.open_connections = open_connections

    def collect(self) -> Iterator[Metric]:
        if self.open_connections is not None:
            yield GaugeMetricFamily(
                "trackledger_open_connections",
                "HTTP connections open in this process",
                value=self.open_connections(),
            )
        if self.backend is None:
            return
        store = self.backend.store
        stats = store.stats
        yield GaugeMetricFamily(
            "trackledger_writer_queue_depth", "Commands waiting to be written", value=store.queued()
        )
        yield CounterMetricFamily(
            "trackledger_write_groups", "Write transactions committed", value=stats.groups
        )
        yield CounterMetricFamily(
            "trackledger_write_commands",
            "Commands written (divided by groups: the mean group size)",
            value=stats.commands,
        )
        yield CounterMetricFamily(
            "trackledger_commit_seconds",
            "Time spent deciding, writing and committing groups",
            value=stats.commit_seconds,
        )
        yield CounterMetricFamily(
            "trackledger_fsyncs", "WAL flushes (SQLite, FULL durability)", value=stats.syncs
        )
        yield CounterMetricFamily(
            "trackledger_fsync_seconds", "Time spent flushing the WAL", value=stats.sync_seconds
        )
        yield GaugeMetricFamily(
            "trackledger_log_position",
            "The highest log position this process appended",
            value=stats.position,
        )
        yield CounterMetricFamily(
            "trackledger_database_errors",
            "Writes that failed because the database was unavailable",
            value=stats.errors,
        )
