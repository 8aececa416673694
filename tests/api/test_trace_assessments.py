"""Assessments of traces: feedback and expectations, overrides, updates, deletes, and
searching by them."""

from __future__ import annotations

import json

from tests.api.helpers import error, new_experiment, ok
from tests.api.trace_helpers import (
    API3,
    found_ids,
    log_size,
    send_spans,
    sent,
    span,
    start_trace,
    trace_id,
)


def _url(trace: str, assessment: str | None = None) -> str:
    base = f"{API3}/traces/{trace}/assessments"
    return base if assessment is None else f"{base}/{assessment}"


async def _create(client, trace: str, **assessment) -> dict:
    return (await ok(await client.post(_url(trace), json={"assessment": assessment})))["assessment"]


async def _trace_with_spans(client, n: int = 1) -> tuple[str, str]:
    exp = await new_experiment(client)
    sent(await send_spans(client, exp, [span(n, 1)]))
    await ok(await start_trace(client, trace_id(n), exp))
    return exp, trace_id(n)


async def test_feedback_crud_with_override(client):
    _, trace = await _trace_with_spans(client)
    first = await _create(
        client,
        trace,
        assessment_name="quality",
        feedback={"value": {"rating": 4, "camelCaseKey": "kept as sent"}},
        source={"source_type": "HUMAN", "source_id": "alice@example.com"},
        rationale="accurate",
        metadata={"model": "m1", "version": "1"},
    )
    aid = first["assessment_id"]
    assert aid.startswith("a-") and first["valid"] is True
    assert first["feedback"]["value"] == {"rating": 4, "camelCaseKey": "kept as sent"}
    assert first["source"] == {"source_type": "HUMAN", "source_id": "alice@example.com"}
    assert first["trace_id"] == trace

    updated = await ok(
        await client.patch(
            _url(trace, aid),
            json={
                "assessment": {
                    "assessment_id": aid,
                    "trace_id": trace,
                    "assessment_name": "quality2",
                    "feedback": {"value": {"rating": 5}},
                    "rationale": "better",
                    "metadata": {"version": "2"},
                },
                "update_mask": "assessmentName,feedback,rationale,metadata",
            },
        )
    )
    updated = updated["assessment"]
    assert updated["assessment_name"] == "quality2"
    assert updated["feedback"]["value"] == {"rating": 5}
    assert updated["rationale"] == "better"
    assert updated["metadata"] == {"model": "m1", "version": "2"}  # merged
    assert updated["source"] == first["source"]  # immutable
    assert updated["create_time"] == first["create_time"]

    override = await _create(
        client,
        trace,
        assessment_name="quality2",
        feedback={"value": {"rating": 3}},
        source={"source_type": "HUMAN", "source_id": "bob"},
        overrides=aid,
    )
    original = (await ok(await client.get(_url(trace, aid))))["assessment"]
    assert original["valid"] is False and override["valid"] is True
    assert override["overrides"] == aid
    await ok(await client.delete(_url(trace, override["assessment_id"])))
    error(await client.get(_url(trace, override["assessment_id"])), "RESOURCE_DOES_NOT_EXIST", 404)
    assert (await ok(await client.get(_url(trace, aid))))["assessment"]["valid"] is True
    # Deleting again does nothing; the trace info lists what is left.
    await ok(await client.delete(_url(trace, override["assessment_id"])))
    info = (await ok(await client.get(f"{API3}/traces/{trace}")))["trace"]["trace_info"]
    assert [a["assessment_id"] for a in info["assessments"]] == [aid]


async def test_expectations_serialize_structured_values(client):
    _, trace = await _trace_with_spans(client)
    structured = await _create(
        client,
        trace,
        assessment_name="expected",
        expectation={"value": {"threshold_ms": 1000, "passed": True}},
        source={"source_type": "CODE", "source_id": "ci"},
    )
    serialized = structured["expectation"]["serialized_value"]
    assert serialized["serialization_format"] == "JSON_FORMAT"
    assert json.loads(serialized["value"]) == {"threshold_ms": 1000, "passed": True}
    plain = await _create(
        client,
        trace,
        assessment_name="answer",
        expectation={"serialized_value": {"serialization_format": "JSON_FORMAT", "value": '"42"'}},
        source={"source_type": "HUMAN"},
    )
    assert plain["expectation"] == {"value": "42"}
    error(
        await client.patch(
            _url(trace, plain["assessment_id"]),
            json={
                "assessment": {"feedback": {"value": 1}},
                "update_mask": {"paths": ["feedback"]},
            },
        ),
        "INVALID_PARAMETER_VALUE",
        400,
    )


async def test_bad_assessments_append_nothing(client, backend):
    _, trace = await _trace_with_spans(client)
    before = await log_size(backend)
    source = {"source_type": "HUMAN"}
    cases = [
        (
            _url("tr-none"),
            {"assessment_name": "a", "feedback": {"value": 1}, "source": source},
            404,
        ),
        (_url(trace), {"feedback": {"value": 1}, "source": source}, 400),
        (_url(trace), {"assessment_name": "a", "source": source}, 400),
        (
            _url(trace),
            {"assessment_name": "a", "feedback": {"value": 1}, "source": {"source_type": "ROBOT"}},
            400,
        ),
        (
            _url(trace),
            {
                "assessment_name": "a",
                "feedback": {"value": 1},
                "source": source,
                "overrides": "a-x",
            },
            404,
        ),
    ]
    for url, assessment, status in cases:
        response = await client.post(url, json={"assessment": assessment})
        assert response.status_code == status, (assessment, response.text)
    error(await client.get(_url(trace, "a-none")), "RESOURCE_DOES_NOT_EXIST", 404)
    error(
        await client.patch(
            _url(trace, "a-none"),
            json={"assessment": {"rationale": "x"}, "update_mask": "rationale"},
        ),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert await log_size(backend) == before


async def test_search_by_feedback_and_expectation(client):
    exp, first = await _trace_with_spans(client, 1)
    sent(await send_spans(client, exp, [span(2, 1)]))
    await ok(await start_trace(client, trace_id(2), exp, request_time=1_800_000_000_000))
    second = trace_id(2)
    source = {"source_type": "LLM_JUDGE", "source_id": "judge"}
    await _create(
        client, first, assessment_name="correct", feedback={"value": "yes"}, source=source
    )
    await _create(
        client, second, assessment_name="correct", feedback={"value": "no"}, source=source
    )
    score = await _create(
        client, second, assessment_name="score", feedback={"value": 0.9}, source=source
    )
    await _create(client, first, assessment_name="score", feedback={"value": 0.2}, source=source)
    await _create(
        client, first, assessment_name="truth", expectation={"value": "Paris"}, source=source
    )
    cases = {
        "feedback.correct = 'yes'": [first],
        "feedback.correct != 'yes'": [second],
        "feedback.score > 0.5": [second],
        "feedback.score <= 0.5": [first],
        "feedback.missing IS NULL": [second, first],
        "expectation.truth = 'Paris'": [first],
        "expectation.truth IS NOT NULL": [first],
    }
    for text, expected in cases.items():
        assert await found_ids(client, [exp], filter=text) == expected, text
    # An overridden assessment is not valid, so it no longer matches.
    await _create(
        client,
        second,
        assessment_name="score",
        feedback={"value": 0.1},
        source=source,
        overrides=score["assessment_id"],
    )
    assert await found_ids(client, [exp], filter="feedback.score > 0.5") == []
