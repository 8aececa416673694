"""Helpers for trace API tests: OTLP bodies built with opentelemetry-proto, MLflow calls."""

from __future__ import annotations

from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

API3 = "/api/3.0/mlflow"
API2 = "/api/2.0/mlflow"
BASE_NS = 1_700_000_000_000_000_000


def otel_id(n: int) -> str:
    """An OTel trace id (hex) for test trace number ``n``."""
    return f"{n:032x}"


def trace_id(n: int) -> str:
    return f"tr-{otel_id(n)}"


def span_id(n: int) -> str:
    return f"{n:016x}"


def set_value(target: AnyValue, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            set_value(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        for key, item in value.items():
            kv = target.kvlist_value.values.add()
            kv.key = key
            set_value(kv.value, item)


def span(
    trace: int,
    sid: int,
    parent: int | None = None,
    *,
    name: str = "span",
    start_ms: int = 0,
    end_ms: int | None = 10,
    status: int = 1,
    message: str = "",
    attributes: dict[str, Any] | None = None,
    events: list[tuple[str, int, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    return {
        "trace": trace,
        "id": sid,
        "parent": parent,
        "name": name,
        "start": BASE_NS + start_ms * 1_000_000,
        "end": BASE_NS + end_ms * 1_000_000 if end_ms is not None else 0,
        "status": status,
        "message": message,
        "attributes": attributes or {},
        "events": events or [],
    }


def otlp_body(spans: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> bytes:
    request = ExportTraceServiceRequest()
    block = request.resource_spans.add()
    for key, value in (resource or {}).items():
        kv = block.resource.attributes.add()
        kv.key = key
        set_value(kv.value, value)
    scope = block.scope_spans.add()
    for s in spans:
        out = scope.spans.add()
        out.trace_id = bytes.fromhex(otel_id(s["trace"]))
        out.span_id = bytes.fromhex(span_id(s["id"]))
        if s["parent"] is not None:
            out.parent_span_id = bytes.fromhex(span_id(s["parent"]))
        out.name = s["name"]
        out.start_time_unix_nano = s["start"]
        if s["end"]:
            out.end_time_unix_nano = s["end"]
        out.status.code = s["status"]
        if s["message"]:
            out.status.message = s["message"]
        for key, value in s["attributes"].items():
            kv = out.attributes.add()
            kv.key = key
            set_value(kv.value, value)
        for name, time_ns, attributes in s["events"]:
            event = out.events.add()
            event.name = name
            event.time_unix_nano = time_ns
            for key, value in attributes.items():
                kv = event.attributes.add()
                kv.key = key
                set_value(kv.value, value)
    return request.SerializeToString()


async def send_spans(
    client: httpx.AsyncClient,
    experiment_id: str,
    spans: list[dict[str, Any]],
    resource: dict[str, Any] | None = None,
    **headers: str,
) -> httpx.Response:
    return await client.post(
        "/v1/traces",
        content=otlp_body(spans, resource),
        headers={
            "content-type": "application/x-protobuf",
            "x-mlflow-experiment-id": experiment_id,
            **headers,
        },
    )


def rfc3339(ms: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{moment}.{ms % 1000:03d}Z"


async def start_trace(
    client: httpx.AsyncClient,
    trace: str,
    experiment_id: str,
    *,
    request_time: int = BASE_NS // 1_000_000,
    duration_ms: int | None = 10,
    state: str = "OK",
    tags: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    **more: Any,
) -> httpx.Response:
    info: dict[str, Any] = {
        "trace_id": trace,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment_id},
        },
        "request_time": rfc3339(request_time),
        "state": state,
        "trace_metadata": metadata or {},
        "tags": tags or {},
        **more,
    }
    if duration_ms is not None:
        info["execution_duration"] = f"{duration_ms / 1000:.3f}s"
    return await client.post(f"{API3}/traces", json={"trace": {"trace_info": info}})


async def search(
    client: httpx.AsyncClient, experiment_ids: list[str], **fields: Any
) -> httpx.Response:
    locations = [
        {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": e}}
        for e in experiment_ids
    ]
    return await client.post(f"{API3}/traces/search", json={"locations": locations, **fields})


async def found_ids(
    client: httpx.AsyncClient, experiment_ids: list[str], **fields: Any
) -> list[str]:
    response = await search(client, experiment_ids, **fields)
    assert response.status_code == 200, response.text
    return [t["trace_id"] for t in response.json().get("traces", [])]


def sent(response: httpx.Response) -> None:
    """The OTLP endpoint took the spans (it answers an empty protobuf message)."""
    assert response.status_code == 200, response.text


async def log_size(backend: Any) -> int:
    """How many events the log holds, read from its table: the tail reader on PostgreSQL
    holds back events newer than the oldest transaction running anywhere on the server."""
    if backend.kind == "sqlite":
        rows = await backend.store.readers.fetchall("SELECT COUNT(*) FROM events", ())
        return int(rows[0][0])
    async with backend.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT COUNT(*) FROM events"))
