"""Decode OTLP trace export requests (protobuf and JSON) into spans, by hand.

Only ``ExportTraceServiceRequest`` and the messages inside it are read, so a small reader
of protobuf's wire format does, and trackledger needs neither ``protobuf`` nor
``opentelemetry-proto`` at run time (the messages are in opentelemetry-proto's
``trace/v1/trace.proto``, ``common/v1/common.proto`` and ``resource/v1/resource.proto``).
Unknown fields are skipped, as protobuf does; a malformed message raises ``OtlpError``.

Ids come out as lowercase hex; attribute values as Python values (str, bool, int, float,
bytes, list, dict), the way MLflow's server decodes them.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import msgspec

from trackledger.eventlog.trace_events import SpanEventRecord, SpanLinkRecord, SpanRecord

__all__ = ["OtlpError", "ResourceSpans", "decode_json", "decode_protobuf"]


class OtlpError(ValueError):
    """The request is not a valid OTLP trace export."""


class ResourceSpans(msgspec.Struct):
    """The spans one resource sent: each with its OTel trace id (hex)."""

    resource: dict[str, Any]
    spans: list[tuple[str, SpanRecord]]


_DOUBLE = struct.Struct("<d")
_FIXED64 = struct.Struct("<Q")
_FIXED32 = struct.Struct("<I")

Fields = dict[int, list[Any]]


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise OtlpError("a varint is longer than 10 bytes")


def _fields(buf: bytes, start: int, end: int) -> Fields:
    """The message's fields by number: ints for scalar wire types, bytes for the
    length-delimited ones (strings, bytes, nested messages, packed arrays)."""
    out: Fields = {}
    i = start
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            if i + length > end:
                raise OtlpError("a field runs past the end of its message")
            value = buf[i : i + length]
            i += length
        elif wire == 1:
            if i + 8 > end:
                raise OtlpError("a fixed64 field runs past the end of its message")
            value = _FIXED64.unpack_from(buf, i)[0]
            i += 8
        elif wire == 5:
            if i + 4 > end:
                raise OtlpError("a fixed32 field runs past the end of its message")
            value = _FIXED32.unpack_from(buf, i)[0]
            i += 4
        else:
            raise OtlpError(f"unsupported wire type {wire}")
        if number == 0:
            raise OtlpError("field number 0")
        found = out.get(number)
        if found is None:
            out[number] = [value]
        else:
            found.append(value)
    if i != end:
        raise OtlpError("the last field runs past the end of its message")
    return out


def _message(data: bytes) -> Fields:
    return _fields(data, 0, len(data))


def _last(fields: Fields, number: int, default: Any = None) -> Any:
    values = fields.get(number)
    return values[-1] if values else default


def _text(data: Any) -> str:
    if not isinstance(data, bytes):
        raise OtlpError("a string field has the wrong wire type")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise OtlpError("a string field is not UTF-8") from None
    if "\x00" in text:  # PostgreSQL cannot store it; refused on every backend alike
        raise OtlpError("a string field holds a NUL character")
    return text


def _any_value(data: bytes) -> Any:
    f = _message(data)
    if not f:
        return None
    if 1 in f:
        return _text(f[1][-1])
    if 2 in f:
        return bool(f[2][-1])
    if 3 in f:
        value = f[3][-1]
        return value - (1 << 64) if value >= 1 << 63 else value
    if 4 in f:
        return _DOUBLE.unpack(_FIXED64.pack(f[4][-1]))[0]
    if 5 in f:
        return [_any_value(v) for v in _message(f[5][-1]).get(1, [])]
    if 6 in f:
        return _key_values(_message(f[6][-1]).get(1, []))
    if 7 in f:
        return bytes(f[7][-1])
    return None


def _key_values(items: list[bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        kv = _message(item)
        key = _text(_last(kv, 1, b""))
        value = _last(kv, 2)
        out[key] = _any_value(value) if value is not None else None
    return out


def _hex(data: Any, size: int, what: str, required: bool = True) -> str | None:
    if not data:
        if required:
            raise OtlpError(f"a span has no {what}")
        return None
    if not isinstance(data, bytes) or len(data) != size:
        raise OtlpError(f"a span's {what} is not {size} bytes")
    return data.hex()


def _span(data: bytes) -> tuple[str, SpanRecord]:
    f = _message(data)
    trace_id = _hex(_last(f, 1), 16, "trace id")
    span_id = _hex(_last(f, 2), 8, "span id")
    assert trace_id is not None and span_id is not None
    status = _message(_last(f, 15, b""))
    events = []
    for raw in f.get(11, []):
        e = _message(raw)
        events.append(
            SpanEventRecord(
                name=_text(_last(e, 2, b"")),
                time_ns=_last(e, 1, 0),
                attributes=_key_values(e.get(3, [])),
            )
        )
    links = []
    for raw in f.get(13, []):
        link = _message(raw)
        links.append(
            SpanLinkRecord(
                trace_id=_hex(_last(link, 1), 16, "link trace id") or "",
                span_id=_hex(_last(link, 2), 8, "link span id") or "",
                trace_state=_text(_last(link, 3, b"")),
                attributes=_key_values(link.get(4, [])),
            )
        )
    end = _last(f, 8, 0)
    return trace_id, SpanRecord(
        span_id=span_id,
        parent_id=_hex(_last(f, 4), 8, "parent span id", required=False),
        name=_text(_last(f, 5, b"")),
        kind=_last(f, 6, 0),
        start_ns=_last(f, 7, 0),
        end_ns=end or None,
        status=_last(status, 3, 0),
        message=_text(_last(status, 2, b"")),
        attributes=_key_values(f.get(9, [])),
        events=events,
        links=links,
        trace_state=_text(_last(f, 3, b"")),
    )


def decode_protobuf(body: bytes) -> list[ResourceSpans]:
    """An ``ExportTraceServiceRequest`` in protobuf's binary encoding."""
    try:
        out = []
        for raw in _message(body).get(1, []):
            rs = _message(raw)
            resource = _key_values(_message(_last(rs, 1, b"")).get(1, []))
            spans = [_span(span) for scope in rs.get(2, []) for span in _message(scope).get(2, [])]
            out.append(ResourceSpans(resource=resource, spans=spans))
        return out
    except IndexError:
        raise OtlpError("the message ends in the middle of a field") from None
    except (struct.error, TypeError):
        raise OtlpError("a field has the wrong wire type") from None


# -- JSON (OTLP/HTTP JSON: lowerCamelCase names, hex ids, int64 as strings) -------------------


def _get(obj: Any, camel: str, snake: str, default: Any = None) -> Any:
    if not isinstance(obj, dict):
        raise OtlpError("expected a JSON object")
    value = obj.get(camel, obj.get(snake, default))
    return default if value is None else value


def _json_id(value: Any, size: int, what: str, required: bool = True) -> str | None:
    if not value:
        if required:
            raise OtlpError(f"a span has no {what}")
        return None
    if not isinstance(value, str):
        raise OtlpError(f"a span's {what} is not a string")
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:  # protobuf's canonical JSON writes bytes as base64
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise OtlpError(f"a span's {what} is neither hex nor base64") from None
    if len(raw) != size:
        raise OtlpError(f"a span's {what} is not {size} bytes")
    return raw.hex()


def _json_int(value: Any) -> int:
    if isinstance(value, bool):
        raise OtlpError("expected an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OtlpError(f"expected an integer, found {value!r}") from None


def _json_any(value: Any) -> Any:
    if not isinstance(value, dict) or not value:
        return None
    for camel, snake in (
        ("stringValue", "string_value"),
        ("boolValue", "bool_value"),
        ("intValue", "int_value"),
        ("doubleValue", "double_value"),
        ("arrayValue", "array_value"),
        ("kvlistValue", "kvlist_value"),
        ("bytesValue", "bytes_value"),
    ):
        if camel in value or snake in value:
            v: Any = value.get(camel, value.get(snake))
            if camel == "intValue":
                return _json_int(v)
            if camel == "doubleValue":
                return float(v)
            if camel == "arrayValue":
                return [_json_any(x) for x in _get(v, "values", "values", [])]
            if camel == "kvlistValue":
                return _json_key_values(_get(v, "values", "values", []))
            if camel == "bytesValue":
                return base64.b64decode(v)
            return v
    return None


def _json_key_values(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        raise OtlpError("attributes must be a list")
    return {str(_get(kv, "key", "key", "")): _json_any(_get(kv, "value", "value")) for kv in items}


_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}


def _enum(value: Any, names: dict[str, int]) -> int:
    if isinstance(value, str) and value in names:
        return names[value]
    return _json_int(value or 0)


def _json_span(span: Any) -> tuple[str, SpanRecord]:
    trace_id = _json_id(_get(span, "traceId", "trace_id"), 16, "trace id")
    span_id = _json_id(_get(span, "spanId", "span_id"), 8, "span id")
    assert trace_id is not None and span_id is not None
    status = _get(span, "status", "status", {})
    end = _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano", 0))
    return trace_id, SpanRecord(
        span_id=span_id,
        parent_id=_json_id(
            _get(span, "parentSpanId", "parent_span_id"), 8, "parent span id", required=False
        ),
        name=str(_get(span, "name", "name", "")),
        kind=_enum(_get(span, "kind", "kind", 0), _KINDS),
        start_ns=_json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano", 0)),
        end_ns=end or None,
        status=_enum(_get(status, "code", "code", 0), _STATUS_CODES),
        message=str(_get(status, "message", "message", "")),
        attributes=_json_key_values(_get(span, "attributes", "attributes", [])),
        events=[
            SpanEventRecord(
                name=str(_get(e, "name", "name", "")),
                time_ns=_json_int(_get(e, "timeUnixNano", "time_unix_nano", 0)),
                attributes=_json_key_values(_get(e, "attributes", "attributes", [])),
            )
            for e in _get(span, "events", "events", [])
        ],
        links=[
            SpanLinkRecord(
                trace_id=_json_id(_get(link, "traceId", "trace_id"), 16, "link trace id") or "",
                span_id=_json_id(_get(link, "spanId", "span_id"), 8, "link span id") or "",
                trace_state=str(_get(link, "traceState", "trace_state", "")),
                attributes=_json_key_values(_get(link, "attributes", "attributes", [])),
            )
            for link in _get(span, "links", "links", [])
        ],
        trace_state=str(_get(span, "traceState", "trace_state", "")),
    )


def decode_json(data: Any) -> list[ResourceSpans]:
    """An ``ExportTraceServiceRequest`` in OTLP's JSON encoding (already parsed)."""
    try:
        out = []
        for rs in _get(data, "resourceSpans", "resource_spans", []):
            resource = _json_key_values(
                _get(_get(rs, "resource", "resource", {}), "attributes", "attributes", [])
            )
            spans = [
                _json_span(span)
                for scope in _get(rs, "scopeSpans", "scope_spans", [])
                for span in _get(scope, "spans", "spans", [])
            ]
            out.append(ResourceSpans(resource=resource, spans=spans))
        return out
    except (TypeError, ValueError, AttributeError, binascii.Error) as exc:
        if isinstance(exc, OtlpError):
            raise
        raise OtlpError(f"not an OTLP trace export: {exc}") from None
