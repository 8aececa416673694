"""Searching traces: MLflow's trace filter grammar, order_by and page tokens, on both
backends, plus the filter correlation endpoint."""

from __future__ import annotations

import math

from tests.api.helpers import API, error, new_experiment, new_run, ok
from tests.api.trace_helpers import (
    API3,
    BASE_NS,
    found_ids,
    search,
    send_spans,
    sent,
    span,
    start_trace,
    trace_id,
)

T0 = BASE_NS // 1_000_000


async def _seed(client) -> tuple[str, str, str]:
    """Six traces in one experiment (newest is 6), one in another; returns (exp, run,
    the other experiment)."""
    exp = await new_experiment(client, "search")
    other = await new_experiment(client, "other")
    run = await new_run(client, exp)
    rows = [
        # n, state, env tag, duration, span names, root text
        (1, "OK", "prod", 100, ["llm"], "hello world"),
        (2, "ERROR", "prod", 300, ["tool"], "goodbye"),
        (3, "OK", "dev", 50, ["llm", "tool"], "hello again"),
        (4, "OK", None, 700, ["retriever"], "nothing here"),
        (5, "ERROR", "dev", 20, ["llm"], "world peace"),
        (6, "OK", "prod", 10, ["tool"], "x"),
    ]
    for n, state, env, duration, names, text in rows:
        spans = [
            span(
                n,
                1,
                name="root",
                status=2 if state == "ERROR" else 1,
                attributes={"mlflow.spanInputs": {"q": text}},
            ),
            *(
                span(n, 10 + i, 1, name=name, attributes={"mlflow.spanType": name.upper()})
                for i, name in enumerate(names)
            ),
        ]
        sent(await send_spans(client, exp, spans))
        tags = {"mlflow.traceName": f"trace-{n}"}
        if env:
            tags["env"] = env
        metadata = {"mlflow.sourceRun": run} if n in (1, 2) else {"m": str(n)}
        await ok(
            await start_trace(
                client,
                trace_id(n),
                exp,
                request_time=T0 + 1000 * n,
                duration_ms=duration,
                state=state,
                tags=tags,
                metadata=metadata,
                client_request_id=f"req-{n}",
            )
        )
    await ok(await start_trace(client, trace_id(99), other, request_time=T0))
    return exp, run, other


def _ids(*numbers: int) -> list[str]:
    return [trace_id(n) for n in numbers]


async def test_filters(client):
    exp, run, _ = await _seed(client)
    cases = {
        "": [6, 5, 4, 3, 2, 1],
        "status = 'ERROR'": [5, 2],
        "trace.status != 'ERROR'": [6, 4, 3, 1],
        "attributes.status IN ('ERROR')": [5, 2],
        "tags.env = 'prod'": [6, 2, 1],
        "tag.env != 'prod'": [5, 3],  # a trace without the tag matches neither
        "tags.env IS NULL": [4],
        "tags.env LIKE 'pr%'": [6, 2, 1],
        "tags.env ILIKE 'PROD'": [6, 2, 1],
        "tags.env = 'prod' AND status = 'OK'": [6, 1],
        "name = 'trace-3'": [3],
        "metadata.m = '4'": [4],
        "request_metadata.m IS NOT NULL": [6, 5, 4, 3],
        f"run_id = '{run}'": [2, 1],
        f"metadata.`mlflow.sourceRun` = '{run}'": [2, 1],
        "execution_time_ms > 60": [4, 2, 1],
        "execution_time >= 300": [4, 2],
        f"timestamp_ms <= {T0 + 2000}": [2, 1],
        f"end_time > {T0 + 4500}": [6, 5, 4],
        "client_request_id = 'req-5'": [5],
        f"request_id = '{trace_id(3)}'": [3],
        "span.name = 'tool'": [6, 3, 2],
        "span.type = 'RETRIEVER'": [4],
        "span.status = 'ERROR'": [5, 2],
        "trace.text LIKE '%hello%'": [3, 1],
        "span.content LIKE '%world%'": [5, 1],
        # trackledger's extensions, as for runs: OR, NOT, parentheses
        "tags.env = 'dev' OR status = 'ERROR'": [5, 3, 2],
        "NOT (tags.env = 'prod')": [5, 3],
        "(span.name = 'llm') AND NOT (status = 'ERROR')": [3, 1],
    }
    for text, expected in cases.items():
        assert await found_ids(client, [exp], filter=text) == _ids(*expected), text


async def test_order_by_and_pages(client):
    exp, _, other = await _seed(client)
    assert await found_ids(client, [exp], order_by=["timestamp_ms ASC"]) == _ids(1, 2, 3, 4, 5, 6)
    assert await found_ids(client, [exp], order_by=["execution_time DESC"]) == _ids(
        4, 2, 1, 3, 5, 6
    )
    # Traces without the tag come last in both directions; ties newest first.
    assert await found_ids(client, [exp], order_by=["tags.env ASC"]) == _ids(5, 3, 6, 2, 1, 4)
    assert await found_ids(client, [exp], order_by=["tags.env DESC"]) == _ids(6, 2, 1, 5, 3, 4)
    assert await found_ids(client, [exp], order_by=["status"]) == _ids(5, 2, 6, 4, 3, 1)
    two = ["tags.env DESC", "metadata.m ASC"]
    assert await found_ids(client, [exp], order_by=two) == _ids(6, 2, 1, 3, 5, 4)
    seen: list[str] = []
    token = None
    while True:
        fields = {"max_results": 4, "filter": "status != 'IN_PROGRESS'"}
        if token:
            fields["page_token"] = token
        body = await ok(await search(client, [exp], **fields))
        seen.extend(t["trace_id"] for t in body["traces"])
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == _ids(6, 5, 4, 3, 2, 1)
    assert await found_ids(client, [exp, other]) == _ids(6, 5, 4, 3, 2, 1, 99)


async def test_invalid_filters_are_400(client):
    exp, _, _ = await _seed(client)
    for text in (
        "invalid.filter = 'x'",
        "status = 5",
        "timestamp_ms > 'x'",
        "tags.env > 'a'",
        "unknown_attribute = 'a'",
        "span.nope = 'a'",
        "tags.env = 'a' junk",
    ):
        message = error(await search(client, [exp], filter=text), "INVALID_PARAMETER_VALUE", 400)
        assert "filter" in message or "Invalid" in message, message
    error(await search(client, [exp], order_by=["bogus DESC"]), "INVALID_PARAMETER_VALUE", 400)
    error(await search(client, [exp], max_results=501), "INVALID_PARAMETER_VALUE", 400)
    error(await search(client, [exp], page_token="nope"), "INVALID_PARAMETER_VALUE", 400)
    error(
        await client.post(f"{API3}/traces/search", json={"filter": "a = 'b'"}),
        "INVALID_PARAMETER_VALUE",
        400,
    )


async def test_runs_find_traces_linked_to_them(client):
    exp, run, _ = await _seed(client)
    other_run = await new_run(client, exp)
    await ok(
        await client.post(
            f"{API}/traces/link-to-run", json={"trace_ids": [trace_id(5)], "run_id": other_run}
        )
    )
    assert await found_ids(client, [exp], filter=f"run_id = '{other_run}'") == _ids(5)
    # Spans sent with a run header link the traces whose root arrived.
    sent(await send_spans(client, exp, [span(50, 1)], **{"x-mlflow-run-id": other_run}))
    assert await found_ids(client, [exp], filter=f"run_id = '{other_run}'") == _ids(5, 50)
    error(
        await client.post(
            f"{API}/traces/link-to-run", json={"trace_ids": [trace_id(5)], "run_id": "nope"}
        ),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    error(
        await client.post(
            f"{API}/traces/link-to-run",
            json={"trace_ids": [f"tr-{i:032x}" for i in range(101)], "run_id": run},
        ),
        "INVALID_PARAMETER_VALUE",
        400,
    )


async def test_filter_correlation(client):
    exp, _, _ = await _seed(client)
    body = await ok(
        await client.post(
            f"{API3}/traces/calculate-filter-correlation",
            json={
                "experiment_ids": [exp],
                "filter_string1": "tags.env = 'prod'",
                "filter_string2": "span.name = 'tool'",
            },
        )
    )
    assert (body["total_count"], body["filter1_count"], body["filter2_count"]) == (6, 3, 3)
    assert body["joint_count"] == 2
    assert 0 < body["npmi"] < 1
    none = await ok(
        await client.post(
            f"{API3}/traces/calculate-filter-correlation",
            json={
                "experiment_ids": [exp],
                "filter_string1": "tags.env = 'staging'",
                "filter_string2": "span.name = 'tool'",
                "base_filter": "status = 'OK'",
            },
        )
    )
    assert none["total_count"] == 4 and none["filter1_count"] == 0
    assert none["npmi"] == "NaN" and math.isnan(float(none["npmi"]))
    error(
        await client.post(
            f"{API3}/traces/calculate-filter-correlation",
            json={"experiment_ids": [exp], "filter_string1": "bad.x = 'a'", "filter_string2": "a"},
        ),
        "INVALID_PARAMETER_VALUE",
        400,
    )


async def test_pages_through_the_newest_window_and_past_it(client):
    """A filtered newest-first search first looks at the newest traces only; pages that lie
    past that window come from the whole experiment, and the pages are the same."""
    exp = await new_experiment(client, "window")
    for n in range(1, 41):
        tags = {"every7": "yes"} if n % 7 == 0 else {"every2": "yes"} if n % 2 == 0 else {}
        await ok(await start_trace(client, trace_id(n), exp, request_time=T0 + n, tags=tags))
    for text in ("tags.every7 = 'yes'", "tags.every2 = 'yes'", "tags.every7 IS NULL"):
        everything = await found_ids(client, [exp], filter=text, max_results=100)
        paged, token = [], None
        while True:
            fields = {"filter": text, "max_results": 1}
            if token:
                fields["page_token"] = token
            body = await ok(await search(client, [exp], **fields))
            paged.extend(t["trace_id"] for t in body.get("traces", []))
            token = body.get("next_page_token")
            if not token:
                break
        assert paged == everything and everything, text


async def test_traces_by_the_prompt_versions_they_used(client):
    exp, _, _ = await _seed(client)
    for n, versions in ((2, [("qa", 1), ("qa", 2)]), (4, [("qa", 2)]), (6, [("summary", 1)])):
        body = {
            "trace_id": trace_id(n),
            "prompt_versions": [{"name": name, "version": str(v)} for name, v in versions],
        }
        await ok(await client.post(f"{API}/traces/link-prompts", json=body))
    assert await found_ids(client, [exp], filter="prompt = 'qa/2'") == _ids(4, 2)
    assert await found_ids(client, [exp], filter="prompt = 'summary/1'") == _ids(6)
    error(await search(client, [exp], filter="prompt LIKE 'qa%'"), "INVALID_PARAMETER_VALUE", 400)
    bad = {"trace_id": trace_id(2), "prompt_versions": [{"name": "qa"}]}
    error(await client.post(f"{API}/traces/link-prompts", json=bad), "INVALID_PARAMETER_VALUE", 400)
    unknown = {"trace_id": "tr-none", "prompt_versions": [{"name": "qa", "version": "1"}]}
    error(
        await client.post(f"{API}/traces/link-prompts", json=unknown),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
