"""OTLP/HTTP span ingestion at ``POST /v1/traces`` (protobuf or JSON, gzip or deflate).

This is where the mlflow client's ``log_spans`` sends spans (with the experiment in the
``x-mlflow-experiment-id`` header), and where any OpenTelemetry exporter can send them
with that header set. A request becomes one command: one event per trace it carries.
As in MLflow, the span's ``mlflow.traceRequestId`` attribute is the server's own
``tr-<OTel trace id>``, whatever the sender put there, and an ``x-mlflow-run-id`` header
links the traces whose root span arrived to that run.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api.calls import execute, experiment_id
from trackledger.api.errors import ApiError
from trackledger.api.otlp_decode import OtlpError, ResourceSpans, decode_json, decode_protobuf
from trackledger.api.trace_wire import no_nul
from trackledger.api.wire import _check_nesting
from trackledger.eventlog import trace_commands as tc
from trackledger.eventlog.trace_events import SpanRecord

__all__ = ["otlp_routes", "span_batches"]

EXPERIMENT_HEADER = "x-mlflow-experiment-id"
RUN_HEADER = "x-mlflow-run-id"
REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId"
#: A compressed body may expand to at most this much (a guard against zip bombs).
MAX_BODY = 256 * 1024 * 1024
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"


def _bad(message: str) -> ApiError:
    return ApiError("INVALID_PARAMETER_VALUE", message)


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
    else:
        raise _bad(f"Unsupported Content-Encoding: {encoding}")
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(body, MAX_BODY)
    except zlib.error:
        raise _bad(f"Failed to decompress {encoding} payload") from None
    if decompressor.unconsumed_tail:
        raise ApiError("INVALID_PARAMETER_VALUE", "The decompressed request is too large.", 413)
    return data


def span_batches(resources: list[ResourceSpans]) -> list[tc.SpanBatch]:
    """The request's spans grouped by trace (MLflow trace id ``tr-<hex>``), in order."""
    spans: dict[str, list[SpanRecord]] = {}
    resource_of: dict[str, dict[str, Any]] = {}
    for block in resources:
        for otel_trace_id, span in block.spans:
            trace_id = f"tr-{otel_trace_id}"
            attributes = {**span.attributes, REQUEST_ID_ATTRIBUTE: trace_id}
            spans.setdefault(trace_id, []).append(
                msgspec.structs.replace(span, attributes=attributes)
            )
            if block.resource and trace_id not in resource_of:
                resource_of[trace_id] = block.resource
    return [
        tc.SpanBatch(trace_id=t, spans=s, resource=resource_of.get(t, {})) for t, s in spans.items()
    ]


async def export_traces(request: Request) -> Response:
    content_type = request.headers.get("content-type") or ""
    media = content_type.split(";")[0].strip().lower()
    if media not in (_PROTOBUF, _JSON):
        raise _bad(f"Invalid Content-Type: {content_type}. Expected: {_PROTOBUF} or {_JSON}")
    experiment = request.headers.get(EXPERIMENT_HEADER)
    if not experiment:
        raise _bad(f"Missing header {EXPERIMENT_HEADER}: it names the experiment the spans go to.")
    experiment = experiment_id(experiment, EXPERIMENT_HEADER)
    body = _decompress(await request.body(), request.headers.get("content-encoding", "").lower())
    try:
        if media == _PROTOBUF:
            resources = decode_protobuf(body)
        else:
            _check_nesting(body)
            data = orjson.loads(body)
            no_nul(data, "request")
            resources = decode_json(data)
    except (OtlpError, orjson.JSONDecodeError) as exc:
        raise _bad(f"Invalid OpenTelemetry format: {exc}") from None
    if not resources:
        raise _bad("Invalid OpenTelemetry format - no spans found")
    batches = span_batches(resources)
    if batches:
        command = tc.LogSpans(
            experiment_id=experiment,
            batches=batches,
            run_id=request.headers.get(RUN_HEADER) or None,
        )
        await execute(request, command)
    # An empty ExportTraceServiceResponse, in the request's encoding.
    if media == _JSON:
        return Response(b"{}", media_type=_JSON)
    return Response(b"", media_type=_PROTOBUF)


otlp_routes = [Route("/v1/traces", export_traces, methods=["POST"])]
