"""The trace API's JSON: reading requests and rendering traces, spans and assessments.

Trace requests carry maps whose keys are data (``trace_metadata``, ``tags``, assessment
``metadata``) and arbitrary JSON values (feedback and expectation values), so they are read
field by field here: snake_case or lowerCamel field names are both accepted, and nothing
inside a map or a value is renamed. Responses follow MLflow's server: protobuf's JSON with
snake_case names, int64 as numbers, timestamps as RFC 3339 strings, durations as "1.5s",
bytes (span and trace ids inside spans) as base64.
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request

from trackledger.api.errors import ApiError
from trackledger.api.wire import _check_nesting, refuse_nul
from trackledger.eventlog.commands import TagIn
from trackledger.eventlog.trace_commands import AssessmentIn
from trackledger.eventlog.trace_events import AssessmentRecord, SpanRecord
from trackledger.projections.trace_reads import AssessmentView, TraceInfoView

__all__ = [
    "anyvalue",
    "assessment_in",
    "assessment_json",
    "body",
    "duration_ms",
    "field",
    "no_nul",
    "number_json",
    "span_dict",
    "span_json",
    "timestamp_ms",
    "trace_info_v2",
    "trace_info_v3",
]

_CAMEL = re.compile(r"_([a-z])")
_DURATION = re.compile(r"^(-)?(\d+)(?:\.(\d{1,9}))?s$")
#: MLflow cuts these when it renders a trace info (``_truncate_tags`` and friends).
_METADATA_LIMIT = 250
_TAG_KEY_LIMIT = 250
_TAG_VALUE_LIMIT = 4096
_STATUS_NAMES = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
_KIND_NAMES = {
    1: "SPAN_KIND_INTERNAL",
    2: "SPAN_KIND_SERVER",
    3: "SPAN_KIND_CLIENT",
    4: "SPAN_KIND_PRODUCER",
    5: "SPAN_KIND_CONSUMER",
}


def bad(message: str) -> ApiError:
    return ApiError("INVALID_PARAMETER_VALUE", message)


async def body(request: Request) -> dict[str, Any]:
    """A JSON object body (POST/PUT need ``Content-Type: application/json``, as in MLflow)."""
    if request.method in ("POST", "PUT"):
        content_type = request.headers.get("content-type")
        if content_type is None:
            raise bad("Bad Request. Content-Type header is missing.")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise bad("Bad Request. Content-Type must be one of ['application/json'].")
    raw = await request.body()
    if not raw.strip():
        return {}
    _check_nesting(raw)  # the same limits as every other request body
    try:
        data = orjson.loads(raw)
        if isinstance(data, str):  # double-encoded by old clients
            _check_nesting(data.encode())
            data = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise bad(f"Malformed JSON in the request body: {exc}") from None
    if not isinstance(data, dict):
        raise bad(f"The request body must be a JSON object, got {type(data).__name__}.")
    no_nul(data, "request")
    return data


def no_nul(value: Any, name: str) -> None:
    """Refuse a NUL character anywhere in a request's strings (PostgreSQL cannot store it)."""
    if isinstance(value, str):
        refuse_nul(value, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, name)
            no_nul(item, key)
    elif isinstance(value, list):
        for item in value:
            no_nul(item, name)


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]``, spelled snake_case or lowerCamel (not both)."""
    if not isinstance(obj, dict):
        return default
    camel = _CAMEL.sub(lambda m: m.group(1).upper(), name)
    if camel != name and name in obj and camel in obj:
        raise bad(f"Field '{name}' was given twice (as '{camel}' and as '{name}').")
    value = obj.get(name, obj.get(camel))
    return default if value is None else value


def text(obj: Any, name: str) -> str | None:
    value = field(obj, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"Invalid value {json.dumps(value)} for parameter '{name}' supplied.")
    return value


def integer(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad(f"Invalid value {value!r} for parameter '{name}' supplied.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(f"Invalid value {json.dumps(value)} for parameter '{name}' supplied.") from None


def timestamp_ms(value: Any, name: str) -> int | None:
    """A protobuf Timestamp in JSON (RFC 3339), or a number of milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, dict):  # {"seconds": ..., "nanos": ...}
        return (integer(value.get("seconds"), name) or 0) * 1000 + (
            integer(value.get("nanos"), name) or 0
        ) // 1_000_000
    if not isinstance(value, str):
        raise bad(f"Invalid value {json.dumps(value)} for parameter '{name}' supplied.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"Invalid timestamp {value!r} for parameter '{name}'.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def duration_ms(value: Any, name: str) -> int | None:
    """A protobuf Duration in JSON (``"1.500s"``), or a number of milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise bad(f"Invalid duration {value!r} for parameter '{name}'.")
    sign, seconds, fraction = match.groups()
    ms = int(seconds) * 1000 + int((fraction or "").ljust(9, "0")) // 1_000_000
    return -ms if sign else ms


def pairs(value: Any, name: str) -> list[TagIn]:
    """A map (``{"k": "v"}``) or a list of ``{"key", "value"}`` pairs."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [TagIn(str(k), None if v is None else str(v)) for k, v in value.items()]
    if isinstance(value, list):
        out = []
        for item in value:
            if not isinstance(item, dict):
                raise bad(f"Invalid value for parameter '{name}': expected key/value pairs.")
            v = item.get("value")
            out.append(TagIn(item.get("key"), None if v is None else str(v)))
        return out
    raise bad(f"Invalid value for parameter '{name}': expected a map.")


def _expectation_value(expectation: dict[str, Any]) -> Any:
    serialized = field(expectation, "serialized_value")
    if serialized is not None:
        fmt = field(serialized, "serialization_format")
        if fmt not in (None, "JSON_FORMAT"):
            raise bad(f"Unknown serialization format: {fmt}. Only JSON_FORMAT is supported.")
        try:
            return json.loads(field(serialized, "value", "null"))
        except (TypeError, ValueError):
            raise bad("An expectation's serialized_value is not valid JSON.") from None
    return field(expectation, "value")


def assessment_in(data: Any, trace_id: str | None = None) -> AssessmentIn:
    """An assessment message of a request."""
    if not isinstance(data, dict):
        raise bad("Missing value for required parameter 'assessment'.")
    source = field(data, "source", {})
    kind = value = error = None
    if (feedback := field(data, "feedback")) is not None:
        kind, value = "feedback", field(feedback, "value")
        error = field(feedback, "error") or field(data, "error")
    elif (expectation := field(data, "expectation")) is not None:
        kind, value = "expectation", _expectation_value(expectation)
    elif (issue := field(data, "issue")) is not None:
        kind, value = "issue", field(issue, "issue_name")
    metadata = field(data, "metadata", {})
    return AssessmentIn(
        assessment_id=text(data, "assessment_id") or None,
        name=text(data, "assessment_name"),
        kind=kind,
        value=value,
        error=_error(error),
        rationale=text(data, "rationale"),
        metadata={str(k): str(v) for k, v in metadata.items()}
        if isinstance(metadata, dict)
        else {},
        source_type=text(source, "source_type"),
        source_id=text(source, "source_id"),
        span_id=text(data, "span_id") or None,
        overrides=text(data, "overrides") or None,
        valid=field(data, "valid") if isinstance(field(data, "valid"), bool) else None,
        create_time=timestamp_ms(field(data, "create_time"), "create_time"),
        last_update_time=timestamp_ms(field(data, "last_update_time"), "last_update_time"),
    )


def _error(error: Any) -> dict[str, str] | None:
    if not isinstance(error, dict) or not error:
        return None
    out = {}
    for name in ("error_code", "error_message", "stack_trace"):
        value = field(error, name)
        if value is not None:
            out[name] = str(value)
    return out


# -- rendering ---------------------------------------------------------------------------


def rfc3339(ms: int) -> str:
    """A protobuf Timestamp's JSON: "2024-01-02T03:04:05.678Z" (fraction only if any)."""
    moment = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{moment}.{ms % 1000:03d}Z" if ms % 1000 else f"{moment}Z"


def duration(ms: int) -> str:
    """A protobuf Duration's JSON: "0s", "1.500s", "-0.001s"."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 1000}.{ms % 1000:03d}s" if ms % 1000 else f"{sign}{ms // 1000}s"


def _cut(items: dict[str, str], key_limit: int, value_limit: int) -> dict[str, str]:
    return {k[:key_limit]: v[:value_limit] for k, v in items.items()}


def trace_info_v3(view: TraceInfoView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "trace_id": view.trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": view.experiment_id},
        },
        "request_time": rfc3339(view.request_time),
    }
    if view.execution_duration is not None:
        out["execution_duration"] = duration(view.execution_duration)
    out["state"] = view.state
    if view.metadata:
        out["trace_metadata"] = _cut(view.metadata, _METADATA_LIMIT, _METADATA_LIMIT)
    if view.assessments:
        out["assessments"] = [assessment_json(a) for a in view.assessments]
    if view.tags:
        out["tags"] = _cut(view.tags, _TAG_KEY_LIMIT, _TAG_VALUE_LIMIT)
    if view.client_request_id is not None:
        out["client_request_id"] = view.client_request_id
    if view.request_preview is not None:
        out["request_preview"] = view.request_preview
    if view.response_preview is not None:
        out["response_preview"] = view.response_preview
    return out


def trace_info_v2(view: TraceInfoView) -> dict[str, Any]:
    """The legacy TraceInfo: status names differ only for an unspecified state."""
    status = "TRACE_STATUS_UNSPECIFIED" if view.state == "STATE_UNSPECIFIED" else view.state
    out: dict[str, Any] = {
        "request_id": view.trace_id,
        "experiment_id": view.experiment_id,
        "timestamp_ms": view.request_time,
        "execution_time_ms": view.execution_duration or 0,
        "status": status,
    }
    metadata = _cut(view.metadata, _METADATA_LIMIT, _METADATA_LIMIT)
    if metadata:
        out["request_metadata"] = [{"key": k, "value": v} for k, v in metadata.items()]
    tags = _cut(view.tags, _TAG_KEY_LIMIT, _TAG_VALUE_LIMIT)
    if tags:
        out["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    return out


def _expectation_json(value: Any) -> dict[str, Any]:
    # MLflow sends lists, maps and null as a JSON string (Expectation._need_serialization).
    if value is None or not isinstance(value, (int, float, bool, str)):
        return {
            "serialized_value": {"serialization_format": "JSON_FORMAT", "value": json.dumps(value)}
        }
    return {"value": value}


def assessment_json(view: AssessmentView) -> dict[str, Any]:
    r: AssessmentRecord = view.record
    out: dict[str, Any] = {
        "assessment_id": r.assessment_id,
        "assessment_name": r.name,
        "trace_id": view.trace_id,
        "source": {"source_type": r.source_type},
        "create_time": rfc3339(r.create_time),
        "last_update_time": rfc3339(r.last_update_time),
    }
    if r.source_id is not None:
        out["source"]["source_id"] = r.source_id
    if r.span_id is not None:
        out["span_id"] = r.span_id
    if r.kind == "feedback":
        feedback: dict[str, Any] = {"value": r.value}
        if r.error:
            feedback["error"] = r.error
        out["feedback"] = feedback
    elif r.kind == "expectation":
        out["expectation"] = _expectation_json(r.value)
    else:
        out["issue"] = {"issue_name": r.value}
    if r.rationale is not None:
        out["rationale"] = r.rationale
    if r.metadata:
        out["metadata"] = r.metadata
    if r.overrides is not None:
        out["overrides"] = r.overrides
    out["valid"] = view.valid
    return out


def number_json(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def anyvalue(value: Any) -> dict[str, Any]:
    """An OTLP AnyValue in protobuf's JSON (MLflow's names, int64 as numbers)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, int):
        return {"int_value": value}
    if isinstance(value, float):
        return {"double_value": number_json(value)}
    if isinstance(value, bytes):
        return {"bytes_value": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return {"array_value": {"values": [anyvalue(v) for v in value]} if value else {}}
    if isinstance(value, dict):
        items = [{"key": str(k), "value": anyvalue(v)} for k, v in value.items()]
        return {"kvlist_value": {"values": items} if items else {}}
    return {"string_value": str(value)}


def _attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": anyvalue(v)} for k, v in attributes.items()]


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def otel_trace_id(trace_id: str) -> str:
    """The OTel trace id (hex) behind an MLflow trace id ``tr-<32 hex digits>``."""
    return trace_id.removeprefix("tr-")


def span_json(trace_id: str, span: SpanRecord) -> dict[str, Any]:
    """A span as MLflow's ``Trace`` message carries it (OTLP's Span in protobuf JSON)."""
    out: dict[str, Any] = {"trace_id": _b64(otel_trace_id(trace_id)), "span_id": _b64(span.span_id)}
    if span.trace_state:
        out["trace_state"] = span.trace_state
    if span.parent_id:
        out["parent_span_id"] = _b64(span.parent_id)
    out["name"] = span.name
    if span.kind in _KIND_NAMES:
        out["kind"] = _KIND_NAMES[span.kind]
    out["start_time_unix_nano"] = span.start_ns
    if span.end_ns is not None:
        out["end_time_unix_nano"] = span.end_ns
    out["attributes"] = _attributes(span.attributes)
    if span.events:
        out["events"] = [
            {"time_unix_nano": e.time_ns, "name": e.name, "attributes": _attributes(e.attributes)}
            for e in span.events
        ]
    if span.links:
        out["links"] = [
            {
                "trace_id": _b64(link.trace_id),
                "span_id": _b64(link.span_id),
                **({"trace_state": link.trace_state} if link.trace_state else {}),
                "attributes": _attributes(link.attributes),
            }
            for link in span.links
        ]
    status: dict[str, Any] = {}
    if span.message:
        status["message"] = span.message
    if span.status:
        status["code"] = _STATUS_NAMES.get(span.status, "STATUS_CODE_UNSET")
    out["status"] = status
    return out


def _dumped(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def span_dict(trace_id: str, span: SpanRecord) -> dict[str, Any]:
    """A span as MLflow writes it into a trace's ``traces.json`` (``Span.to_dict``):
    attribute values JSON-encoded, event attributes as they are."""
    return {
        "trace_id": _b64(otel_trace_id(trace_id)),
        "span_id": _b64(span.span_id),
        "parent_span_id": _b64(span.parent_id) if span.parent_id else None,
        "name": span.name,
        "start_time_unix_nano": span.start_ns,
        "end_time_unix_nano": span.end_ns,
        "events": [
            {"name": e.name, "time_unix_nano": e.time_ns, "attributes": e.attributes}
            for e in span.events
        ],
        "status": {
            "code": _STATUS_NAMES.get(span.status, "STATUS_CODE_UNSET"),
            "message": span.message,
        },
        "attributes": {k: _dumped(v) for k, v in span.attributes.items()},
        "links": [
            {
                "trace_id": f"tr-{link.trace_id}",
                "span_id": link.span_id,
                "attributes": link.attributes,
            }
            for link in span.links
        ],
    }
