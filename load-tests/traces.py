"""Trace scenarios: spans through the OTLP endpoint, and searches over many traces.

- ``traces-ingest``: each worker sends OTLP/HTTP protobuf requests of
  ``--spans-per-request`` spans (traces of 10 spans: a root and 9 children with inputs,
  outputs and a type), as an OpenTelemetry batch exporter does; spans/s and latency, then
  the traces are counted back through the search API ("lost": acknowledged traces missing).
- ``traces-search``: ``--trace-count`` one-span traces loaded the same way (10% tagged
  env=prod, 1% team=a, 5% failed, all of those prod), then pages of 100 by filter,
  ``--repeats x 20`` requests per query one after the other.

The OTLP bodies are encoded here by hand (protobuf's wire format), so the load generator
needs no protobuf library.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import struct
import sys
import time
from pathlib import Path

import orjson
from loadgen import Connection, Planned, run_workers
from servers import start

API3 = "/api/3.0/mlflow"
T0_NS = 1_700_000_000_000_000_000
SPANS_PER_TRACE = 10

#: (name, filter, order_by)
QUERIES = [
    ("newest page (no filter)", "", []),
    ("status = 'ERROR' (5%)", "status = 'ERROR'", []),
    ("status = 'OK' (95%)", "status = 'OK'", []),
    ("tags.env = 'prod' (10%)", "tags.env = 'prod'", []),
    ("tags.team = 'a' (1%)", "tags.team = 'a'", []),
    ("tag and status", "tags.env = 'prod' AND status = 'ERROR'", []),
    ("oldest first", "", ["timestamp_ms ASC"]),
]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- a minimal protobuf encoder for ExportTraceServiceRequest --------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fixed64(number: int, value: int) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<Q", value)


def _key_value(key: str, value: str) -> bytes:
    """A KeyValue message with a string AnyValue."""
    return _field(1, key.encode()) + _field(2, _field(1, value.encode()))


def _string_attribute(key: str, value: str) -> bytes:
    return _field(9, _key_value(key, value))  # Span.attributes


def _span(
    trace: bytes, span: int, parent: int | None, start: int, status: int, attrs: dict[str, str]
) -> bytes:
    body = _field(1, trace) + _field(2, span.to_bytes(8, "big"))
    if parent is not None:
        body += _field(4, parent.to_bytes(8, "big"))
    body += _field(5, f"span-{span}".encode()) + _fixed64(7, start) + _fixed64(8, start + 5_000_000)
    body += b"".join(_string_attribute(k, v) for k, v in attrs.items())
    if status:
        body += _field(15, _varint(3 << 3 | 0) + _varint(status))
    return _field(2, body)  # a span inside ScopeSpans


def otlp_request(spans: list[bytes]) -> bytes:
    """ExportTraceServiceRequest{resource_spans: [{resource, scope_spans: [{spans}]}]}."""
    resource = _field(1, _field(1, _key_value("service.name", "load")))
    scope = _field(2, b"".join(spans))
    return _field(1, resource + scope)


def _trace_spans(n: int, start: int) -> list[bytes]:
    trace = n.to_bytes(16, "big")
    out = [
        _span(
            trace,
            1,
            None,
            start,
            1,
            {
                "mlflow.spanType": "CHAIN",
                "mlflow.spanInputs": '{"question": "how many spans per second?"}',
                "mlflow.spanOutputs": "enough",
            },
        )
    ]
    for child in range(2, SPANS_PER_TRACE + 1):
        out.append(
            _span(
                trace,
                child,
                1,
                start + child,
                1,
                {"mlflow.spanType": "TOOL", "mlflow.spanInputs": f'{{"step": {child}}}'},
            )
        )
    return out


class Ingest:
    def __init__(self, experiment_id: str, spans_per_request: int) -> None:
        self.experiment_id = experiment_id
        self.traces_per_request = max(1, spans_per_request // SPANS_PER_TRACE)
        self.next_trace = itertools.count(1)
        self.sent: list[int] = []

    def step(self, worker: int, _: int) -> Planned:
        ids = [next(self.next_trace) for _ in range(self.traces_per_request)]
        spans = [s for n in ids for s in _trace_spans(n, T0_NS + n * 1_000_000)]

        def on_ok(_: bytes) -> None:
            self.sent.extend(ids)

        return Planned(
            "POST",
            "/v1/traces",
            None,
            len(spans),
            on_ok,
            raw=otlp_request(spans),
            headers={
                "Content-Type": "application/x-protobuf",
                "x-mlflow-experiment-id": self.experiment_id,
            },
        )


async def _experiment(conn: Connection, name: str) -> str:
    status, body = await conn.request("POST", "/api/2.0/mlflow/experiments/create", {"name": name})
    if status != 200:
        raise RuntimeError(f"experiments/create failed: {status} {body[:200]!r}")
    experiment_id: str = orjson.loads(body)["experiment_id"]
    return experiment_id


async def _count_traces(conn: Connection, experiment_id: str) -> int:
    total, token = 0, None
    while True:
        body: dict[str, object] = {
            "locations": [
                {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
            ],
            "max_results": 500,
        }
        if token:
            body["page_token"] = token
        status, data = await conn.request("POST", f"{API3}/traces/search", body)
        if status != 200:
            raise RuntimeError(f"traces/search failed: {status} {data[:200]!r}")
        page = orjson.loads(data)
        total += len(page.get("traces", []))
        token = page.get("next_page_token")
        if not token:
            return total


async def run_trace_ingest(args: argparse.Namespace) -> str:
    lines = [
        f"traces-ingest: OTLP/HTTP protobuf, {args.spans_per_request} spans per request "
        f"(traces of {SPANS_PER_TRACE}), {args.concurrency} connections, median of "
        f"{args.repeats} rounds of {args.seconds:g} s",
        "",
        "| target | spans/s | requests/s | p50 ms | p95 ms | p99 ms | errors | lost traces |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in args.targets.split(","):
        server = await start(target, Path(args.workdir) / target / "traces", args.server_workers)
        try:
            conn = Connection(server.port)
            experiment_id = await _experiment(conn, "trace-ingest")
            load = Ingest(experiment_id, args.spans_per_request)
            await run_workers(
                server.port,
                args.concurrency,
                load.step,
                seconds=args.warmup,
                max_requests=args.max_requests,
            )
            rounds = []
            for _ in range(args.repeats):
                result = await run_workers(
                    server.port,
                    args.concurrency,
                    load.step,
                    seconds=args.seconds,
                    max_requests=args.max_requests,
                )
                rounds.append(result)
                _progress(f"  {target}: {result.points / result.seconds:,.0f} spans/s")
            rounds.sort(key=lambda r: r.points / r.seconds)
            mid = rounds[len(rounds) // 2]
            await conn.close()
            conn = Connection(server.port)
            stored = await _count_traces(conn, experiment_id)
            await conn.close()
            lost = max(0, len(set(load.sent)) - stored)
            lines.append(
                f"| {target} | {mid.points / mid.seconds:,.0f} | {mid.requests / mid.seconds:,.0f} "
                f"| {mid.percentile(50):.1f} | {mid.percentile(95):.1f} | {mid.percentile(99):.1f} "
                f"| {sum(r.errors for r in rounds)} | {lost} |"
            )
            _progress(lines[-1])
        finally:
            server.stop()
    return "\n".join(lines)


class SearchLoader:
    """One-span traces, 500 per request: tags come from ``mlflow.traceTag.*`` attributes of
    the root span, the state from its status."""

    PER_REQUEST = 500

    def __init__(self, total: int, experiment_id: str) -> None:
        self.total = total
        self.experiment_id = experiment_id
        self.next_block = itertools.count()

    def step(self, worker: int, _: int) -> Planned | None:
        block = next(self.next_block)
        first = block * self.PER_REQUEST
        if first >= self.total:
            return None
        spans = []
        for n in range(first + 1, min(first + self.PER_REQUEST, self.total) + 1):
            attrs = {"mlflow.spanInputs": f'{{"n": {n}}}'}
            if n % 10 == 0:
                attrs["mlflow.traceTag.env"] = "prod"
            elif n % 10 == 1:
                attrs["mlflow.traceTag.env"] = "dev"
            if n % 100 == 7:
                attrs["mlflow.traceTag.team"] = "a"
            status = 2 if n % 20 == 10 else 1  # 5%, all of them tagged prod
            spans.append(
                _span(n.to_bytes(16, "big"), 1, None, T0_NS + n * 1_000_000, status, attrs)
            )
        return Planned(
            "POST",
            "/v1/traces",
            None,
            len(spans),
            raw=otlp_request(spans),
            headers={
                "Content-Type": "application/x-protobuf",
                "x-mlflow-experiment-id": self.experiment_id,
            },
        )


async def _time_query(
    conn: Connection, experiment_id: str, filter_: str, order_by: list[str], times: int
) -> tuple[list[float], int]:
    body = {
        "locations": [
            {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
        ],
        "filter": filter_,
        "max_results": 100,
        "order_by": order_by,
    }
    latencies, found = [], 0
    for _ in range(times):
        started = time.perf_counter()
        status, data = await conn.request("POST", f"{API3}/traces/search", body)
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"search {filter_!r} failed: {status} {data[:300]!r}")
        found = len(orjson.loads(data).get("traces", []))
    return latencies, found


async def run_trace_search(args: argparse.Namespace) -> str:
    lines = [
        f"traces-search: {args.trace_count:,} traces in one experiment, pages of 100, "
        f"{args.repeats * 20} sequential requests per query",
        "",
        "| target | query | p50 ms | p95 ms | traces in page |",
        "|---|---|---:|---:|---:|",
    ]
    for target in args.targets.split(","):
        server = await start(
            target, Path(args.workdir) / target / "trace-search", args.server_workers
        )
        try:
            conn = Connection(server.port)
            experiment_id = await _experiment(conn, "trace-search")
            await conn.close()
            loader = SearchLoader(args.trace_count, experiment_id)
            started = time.perf_counter()
            loaded = await run_workers(
                server.port, 4, loader.step, seconds=24 * 3600, max_requests=10**9
            )
            if loaded.errors:
                raise RuntimeError(f"loading failed: {loaded.first_errors}")
            _progress(
                f"{target}: loaded {args.trace_count:,} traces in "
                f"{time.perf_counter() - started:.0f} s"
            )
            conn = Connection(server.port)
            for name, filter_, order_by in QUERIES:
                await _time_query(conn, experiment_id, filter_, order_by, 3)  # warm-up
                latencies, found = await _time_query(
                    conn, experiment_id, filter_, order_by, args.repeats * 20
                )
                p95 = statistics.quantiles(latencies, n=20)[-1]
                lines.append(
                    f"| {target} | {name}: `{filter_ or '-'}` {' '.join(order_by)} "
                    f"| {statistics.median(latencies):.1f} | {p95:.1f} | {found} |"
                )
                _progress("  " + lines[-1])
            await conn.close()
        finally:
            server.stop()
    return "\n".join(lines)
