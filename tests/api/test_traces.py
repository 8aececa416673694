"""Traces through the API, in process, on SQLite and PostgreSQL: spans over OTLP, the
client's trace info, reading a trace back whole, tags, deletes and the legacy v2 calls."""

from __future__ import annotations

import gzip
import json

import orjson

from tests.api.helpers import error, new_experiment, ok
from tests.api.trace_helpers import (
    API2,
    API3,
    BASE_NS,
    log_size,
    otel_id,
    otlp_body,
    send_spans,
    sent,
    span,
    span_id,
    start_trace,
    trace_id,
)

ATTRIBUTES = {
    "mlflow.spanType": "CHAIN",
    "mlflow.spanInputs": {"question": "why?", "n": 3, "tags": ["a", "b"]},
    "mlflow.spanOutputs": "because",
    "ratio": 0.25,
    "flag": True,
    "empty": {},
}


def _tree(trace: int) -> list[dict]:
    return [
        span(trace, 1, name="agent", start_ms=0, end_ms=50, attributes=ATTRIBUTES),
        span(
            trace,
            2,
            1,
            name="retrieve",
            start_ms=5,
            end_ms=20,
            status=2,
            message="ValueError: boom",
            attributes={"mlflow.spanType": "RETRIEVER", "k": 4},
            events=[("exception", BASE_NS + 7, {"exception.message": "boom", "n": 1})],
        ),
        span(trace, 3, 2, name="embed", start_ms=6, end_ms=9, attributes={"dims": 768}),
    ]


def _attributes(span_json: dict) -> dict:
    return {a["key"]: a["value"] for a in span_json["attributes"]}


async def _get(client, trace: str, allow_partial: bool = True) -> dict:
    response = await client.get(
        f"{API3}/traces/get", params={"trace_id": trace, "allow_partial": str(allow_partial)}
    )
    return (await ok(response))["trace"]


async def test_spans_and_info_give_the_whole_tree(client):
    exp = await new_experiment(client)
    sent(await send_spans(client, exp, _tree(1), {"service.name": "svc"}))
    await ok(
        await start_trace(
            client,
            trace_id(1),
            exp,
            tags={"mlflow.traceName": "agent", "team": "search"},
            metadata={"mlflow.trace.sizeStats": json.dumps({"num_spans": 3}), "m": "1"},
        )
    )
    trace = await _get(client, trace_id(1), allow_partial=False)
    info = trace["trace_info"]
    assert info["trace_id"] == trace_id(1)
    assert info["trace_location"]["mlflow_experiment"]["experiment_id"] == exp
    assert info["state"] == "OK"
    assert info["tags"]["team"] == "search"
    assert info["tags"]["service.name"] == "svc"  # the OTel resource becomes tags
    assert info["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert info["tags"]["mlflow.artifactLocation"].endswith(f"/traces/{trace_id(1)}/artifacts")
    assert info["trace_metadata"]["m"] == "1"
    assert info["request_preview"] == json.dumps(ATTRIBUTES["mlflow.spanInputs"])
    spans = trace["spans"]
    assert [s["name"] for s in spans] == ["agent", "retrieve", "embed"]  # root, then by start
    root, retrieve, embed = spans
    assert "parent_span_id" not in root
    assert retrieve["parent_span_id"] == embed["span_id"][:0] + root["span_id"]
    assert retrieve["status"] == {"message": "ValueError: boom", "code": "STATUS_CODE_ERROR"}
    attributes = _attributes(root)
    assert attributes["ratio"] == {"double_value": 0.25}
    assert attributes["flag"] == {"bool_value": True}
    assert attributes["empty"] == {"kvlist_value": {}}
    assert attributes["mlflow.traceRequestId"] == {"string_value": trace_id(1)}
    inputs = {
        kv["key"]: kv["value"] for kv in attributes["mlflow.spanInputs"]["kvlist_value"]["values"]
    }
    assert inputs["n"] == {"int_value": 3}
    assert inputs["tags"] == {
        "array_value": {"values": [{"string_value": "a"}, {"string_value": "b"}]}
    }
    assert retrieve["events"] == [
        {
            "time_unix_nano": BASE_NS + 7,
            "name": "exception",
            "attributes": [
                {"key": "exception.message", "value": {"string_value": "boom"}},
                {"key": "n", "value": {"int_value": 1}},
            ],
        }
    ]
    assert (
        root["start_time_unix_nano"] == BASE_NS
        and root["end_time_unix_nano"] == BASE_NS + 50_000_000
    )


async def test_info_first_or_spans_first_give_the_same_trace(client):
    exp = await new_experiment(client)
    await ok(await start_trace(client, trace_id(1), exp, tags={"t": "1"}))
    sent(await send_spans(client, exp, _tree(1)))
    sent(await send_spans(client, exp, _tree(2)))
    await ok(await start_trace(client, trace_id(2), exp, tags={"t": "1"}))
    first, second = await _get(client, trace_id(1)), await _get(client, trace_id(2))
    for trace in (first, second):
        trace["trace_info"].pop("trace_id")
        trace["trace_info"]["tags"].pop("mlflow.artifactLocation")
        for s in trace["spans"]:
            s.pop("trace_id")
            s["attributes"] = [a for a in s["attributes"] if a["key"] != "mlflow.traceRequestId"]
    assert first == second


async def test_spans_alone_make_a_trace_from_their_root(client):
    exp = await new_experiment(client)
    sent(await send_spans(client, exp, _tree(1)[1:]))  # no root yet
    info = (await ok(await client.get(f"{API3}/traces/{trace_id(1)}")))["trace"]["trace_info"]
    assert info["state"] == "IN_PROGRESS"
    assert info["request_time"] == "2023-11-14T22:13:20.005Z"
    sent(await send_spans(client, exp, [span(1, 1, name="agent", status=2, end_ms=60)]))
    info = (await ok(await client.get(f"{API3}/traces/{trace_id(1)}")))["trace"]["trace_info"]
    assert info["state"] == "ERROR"  # the root span's status settles an open trace
    assert info["request_time"] == "2023-11-14T22:13:20Z"
    assert info["execution_duration"] == "0.060s"


async def test_a_span_sent_again_replaces_the_first(client):
    exp = await new_experiment(client)
    sent(await send_spans(client, exp, [span(1, 1, name="draft", end_ms=None)]))
    sent(await send_spans(client, exp, [span(1, 1, name="final", end_ms=30)]))
    spans = (await _get(client, trace_id(1)))["spans"]
    assert [s["name"] for s in spans] == ["final"]


async def test_otlp_json_and_gzip(client):
    exp = await new_experiment(client)
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": otel_id(7),
                                "spanId": span_id(1),
                                "name": "json-root",
                                "kind": 2,
                                "startTimeUnixNano": str(BASE_NS),
                                "endTimeUnixNano": str(BASE_NS + 1_000_000),
                                "attributes": [
                                    {"key": "n", "value": {"intValue": "42"}},
                                    {"key": "x", "value": {"doubleValue": 1.5}},
                                ],
                                "status": {"code": "STATUS_CODE_OK"},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = await client.post(
        "/v1/traces",
        content=orjson.dumps(body),
        headers={"content-type": "application/json", "x-mlflow-experiment-id": exp},
    )
    assert response.status_code == 200 and response.json() == {}
    response = await client.post(
        "/v1/traces",
        content=gzip.compress(otlp_body([span(8, 1, name="zipped")])),
        headers={
            "content-type": "application/x-protobuf",
            "content-encoding": "gzip",
            "x-mlflow-experiment-id": exp,
        },
    )
    assert response.status_code == 200
    root = (await _get(client, trace_id(7)))["spans"][0]
    assert root["name"] == "json-root" and root["kind"] == "SPAN_KIND_SERVER"
    assert _attributes(root)["n"] == {"int_value": 42}
    assert (await _get(client, trace_id(8)))["spans"][0]["name"] == "zipped"


async def test_bad_otlp_requests_are_refused_and_append_nothing(client, backend):
    exp = await new_experiment(client)
    before = await log_size(backend)
    body = otlp_body([span(1, 1)])
    cases = [
        ({"content-type": "text/plain", "x-mlflow-experiment-id": exp}, body, 400),
        ({"content-type": "application/x-protobuf"}, body, 400),
        ({"content-type": "application/x-protobuf", "x-mlflow-experiment-id": "x"}, body, 400),
        ({"content-type": "application/x-protobuf", "x-mlflow-experiment-id": "999"}, body, 404),
        (
            {"content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp},
            b"\xff\x01",
            400,
        ),
        ({"content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp}, b"", 400),
        ({"content-type": "application/json", "x-mlflow-experiment-id": exp}, b"{nope", 400),
        (
            {
                "content-type": "application/x-protobuf",
                "content-encoding": "br",
                "x-mlflow-experiment-id": exp,
            },
            body,
            400,
        ),
    ]
    for headers, content, status in cases:
        response = await client.post("/v1/traces", content=content, headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert response.json()["error_code"]
    assert await log_size(backend) == before


async def test_get_of_unknown_or_incomplete_traces(client):
    exp = await new_experiment(client)
    error(await client.get(f"{API3}/traces/tr-nope"), "RESOURCE_DOES_NOT_EXIST", 404)
    error(
        await client.get(f"{API3}/traces/get", params={"trace_id": "tr-nope"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    error(await client.get(f"{API3}/traces/get"), "INVALID_PARAMETER_VALUE", 400)
    # The client said two spans; one arrived. A partial read shows it; batchGet skips it.
    sent(await send_spans(client, exp, [span(1, 1)]))
    await ok(
        await start_trace(
            client, trace_id(1), exp, metadata={"mlflow.trace.sizeStats": '{"num_spans": 2}'}
        )
    )
    assert len((await _get(client, trace_id(1), allow_partial=True))["spans"]) == 1
    batch = await ok(await client.get(f"{API3}/traces/batchGet", params={"trace_ids": trace_id(1)}))
    assert batch == {}
    sent(await send_spans(client, exp, [span(1, 2, 1)]))
    batch = await ok(await client.get(f"{API3}/traces/batchGet", params={"trace_ids": trace_id(1)}))
    assert [len(t["spans"]) for t in batch["traces"]] == [2]


async def test_batch_get_trace_infos_keeps_the_order_asked(client):
    exp = await new_experiment(client)
    for n in (1, 2, 3):
        await ok(await start_trace(client, trace_id(n), exp))
    body = await ok(
        await client.post(
            f"{API3}/traces/batchGetInfos",
            json={"trace_ids": [trace_id(3), "tr-missing", trace_id(1)]},
        )
    )
    assert [t["trace_id"] for t in body["trace_infos"]] == [trace_id(3), trace_id(1)]


async def test_trace_tags_set_and_delete(client, backend):
    exp = await new_experiment(client)
    await ok(await start_trace(client, trace_id(1), exp, tags={"a": "1", "b": "2"}))
    await ok(
        await client.patch(f"{API3}/traces/{trace_id(1)}/tags", json={"key": "a", "value": "9"})
    )
    await ok(await client.request("DELETE", f"{API2}/traces/{trace_id(1)}/tags", json={"key": "b"}))
    tags = (await ok(await client.get(f"{API3}/traces/{trace_id(1)}")))["trace"]["trace_info"][
        "tags"
    ]
    assert tags["a"] == "9" and "b" not in tags
    before = await log_size(backend)
    error(
        await client.request("DELETE", f"{API3}/traces/{trace_id(1)}/tags", json={"key": "b"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    error(
        await client.patch(f"{API3}/traces/tr-none/tags", json={"key": "a", "value": "1"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    error(
        await client.patch(f"{API3}/traces/{trace_id(1)}/tags", json={"value": "1"}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    assert await log_size(backend) == before


async def test_start_trace_refuses_bad_input(client, backend):
    exp = await new_experiment(client)
    gone = await new_experiment(client, "gone")
    await ok(await client.post(f"{API2}/experiments/delete", json={"experiment_id": gone}))
    before = await log_size(backend)
    error(await start_trace(client, trace_id(1), "999"), "RESOURCE_DOES_NOT_EXIST", 404)
    error(await start_trace(client, trace_id(1), exp, state="DONE"), "INVALID_PARAMETER_VALUE", 400)
    error(await start_trace(client, "", exp), "INVALID_PARAMETER_VALUE", 400)
    error(
        await start_trace(client, trace_id(1), exp, tags={"mlflow.traceName": "x" * 5000}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    error(await client.post(f"{API3}/traces", json={"trace": "x"}), "INVALID_PARAMETER_VALUE", 400)
    error(await start_trace(client, trace_id(1), gone), "INVALID_PARAMETER_VALUE", 400)
    assert await log_size(backend) == before
    error(await client.get(f"{API3}/traces/{trace_id(1)}"), "RESOURCE_DOES_NOT_EXIST", 404)


async def test_legacy_v2_start_and_end(client):
    exp = await new_experiment(client)
    started = await ok(
        await client.post(
            f"{API2}/traces",
            json={
                "experiment_id": exp,
                "timestamp_ms": 1000,
                "request_metadata": [{"key": "m1", "value": "a"}],
                "tags": [{"key": "t1", "value": "x"}],
            },
        )
    )
    info = started["trace_info"]
    assert info["status"] == "IN_PROGRESS" and info["execution_time_ms"] == 0
    rid = info["request_id"]
    ended = await ok(
        await client.patch(
            f"{API2}/traces/{rid}",
            json={
                "timestamp_ms": 3000,
                "status": "OK",
                "request_metadata": [{"key": "m2", "value": "b"}],
                "tags": [{"key": "t1", "value": "y"}],
            },
        )
    )
    info = ended["trace_info"]
    assert (info["timestamp_ms"], info["execution_time_ms"], info["status"]) == (1000, 2000, "OK")
    metadata = {p["key"]: p["value"] for p in info["request_metadata"]}
    assert metadata == {"m1": "a", "m2": "b"}
    again = await ok(await client.get(f"{API2}/traces/{rid}/info"))
    assert again == ended
    listed = await ok(await client.get(f"{API2}/traces", params={"experiment_ids": exp}))
    assert [t["request_id"] for t in listed["traces"]] == [rid]


async def test_delete_by_ids_and_by_time(client, backend):
    exp = await new_experiment(client)
    for n in range(1, 6):
        await ok(await start_trace(client, trace_id(n), exp, request_time=1000 * n))
    deleted = await ok(
        await client.post(
            f"{API3}/traces/delete-traces",
            json={"experiment_id": exp, "request_ids": [trace_id(5), "tr-none"]},
        )
    )
    assert deleted == {"traces_deleted": 1}
    # The oldest first, at most max_traces, up to the time given.
    deleted = await ok(
        await client.post(
            f"{API2}/traces/delete-traces",
            json={"experiment_id": exp, "max_timestamp_millis": 3000, "max_traces": 2},
        )
    )
    assert deleted == {"traces_deleted": 2}
    for n, status in ((1, 404), (2, 404), (3, 200), (4, 200), (5, 404)):
        assert (await client.get(f"{API3}/traces/{trace_id(n)}")).status_code == status
    before = await log_size(backend)
    for body in (
        {"experiment_id": exp},
        {"experiment_id": exp, "max_timestamp_millis": 1, "request_ids": [trace_id(3)]},
        {"experiment_id": exp, "request_ids": [trace_id(3)], "max_traces": 1},
        {"experiment_id": exp, "max_timestamp_millis": 1, "max_traces": 0},
    ):
        error(
            await client.post(f"{API3}/traces/delete-traces", json=body),
            "INVALID_PARAMETER_VALUE",
            400,
        )
    assert await log_size(backend) == before
    # Writes to a deleted trace are refused; its spans too.
    error(
        await client.patch(f"{API3}/traces/{trace_id(1)}/tags", json={"key": "a", "value": "b"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    error(await send_spans(client, exp, [span(1, 9)]), "INVALID_PARAMETER_VALUE", 400)


async def test_idempotent_start_trace(client, backend):
    exp = await new_experiment(client)
    headers = {"Idempotency-Key": "trace-1"}
    body = {
        "trace": {
            "trace_info": {
                "trace_id": trace_id(1),
                "trace_location": {"mlflow_experiment": {"experiment_id": exp}},
                "request_time": "2024-01-01T00:00:00Z",
                "state": "OK",
            }
        }
    }
    first = await ok(await client.post(f"{API3}/traces", json=body, headers=headers))
    count = await log_size(backend)
    again = await ok(await client.post(f"{API3}/traces", json=body, headers=headers))
    assert again == first and await log_size(backend) == count
