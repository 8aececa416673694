"""The Traces tab and the trace view in a real headless Chromium against a real
``trackledger server``: traces sent over OTLP and the trace API, then searched, filtered by
state, opened, their spans chosen, and followed to the run they belong to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import loopback
from tests.api.trace_helpers import API3, BASE_NS, otlp_body, rfc3339, span, trace_id
from tests.server.process import ServerProcess
from tests.ui.conftest import ON_SQLITE_ONLY
from tests.ui.seed import API

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), ON_SQLITE_ONLY]

expect = pytest.importorskip("playwright.async_api").expect


def _seed(base: str) -> tuple[str, str]:
    """Three traces in a new experiment (one failed, one tagged prod, one under a run)."""
    with loopback.client(base_url=base, timeout=30) as client:
        exp = client.post(f"{API}/experiments/create", json={"name": "agents"}).json()[
            "experiment_id"
        ]
        run = client.post(
            f"{API}/runs/create", json={"experiment_id": exp, "run_name": "eval-run"}
        ).json()["run"]["info"]["run_id"]
        for n, (state, env, question) in enumerate(
            [
                ("OK", "prod", "capital of France?"),
                ("ERROR", "dev", "divide by zero"),
                ("OK", "dev", "hi"),
            ],
            start=1,
        ):
            spans = [
                span(
                    n,
                    1,
                    name="agent",
                    end_ms=120,
                    status=2 if state == "ERROR" else 1,
                    attributes={
                        "mlflow.spanType": "AGENT",
                        "mlflow.spanInputs": {"question": question},
                        "mlflow.spanOutputs": "Paris" if n == 1 else None,
                    },
                ),
                span(
                    n,
                    2,
                    1,
                    name="search_tool",
                    start_ms=10,
                    end_ms=60,
                    status=2 if state == "ERROR" else 1,
                    message="ZeroDivisionError: division by zero" if state == "ERROR" else "",
                    attributes={"mlflow.spanType": "TOOL", "top_k": 3},
                    events=[
                        ("exception", BASE_NS + 50_000_000, {"exception.type": "ZeroDivisionError"})
                    ]
                    if state == "ERROR"
                    else [],
                ),
            ]
            response = client.post(
                "/v1/traces",
                content=otlp_body(spans, {"service.name": "ui-test"}),
                headers={"content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp},
            )
            assert response.status_code == 200, response.text
            info = {
                "trace_id": trace_id(n),
                "trace_location": {"mlflow_experiment": {"experiment_id": exp}},
                "request_time": rfc3339(BASE_NS // 1_000_000 + n * 1000),
                "execution_duration": "0.120s",
                "state": state,
                "tags": {"mlflow.traceName": f"agent-{n}", "env": env},
                "trace_metadata": {"mlflow.sourceRun": run} if n == 3 else {},
                "request_preview": json.dumps({"question": question}),
            }
            client.post(f"{API3}/traces", json={"trace": {"trace_info": info}}).raise_for_status()
        client.post(
            f"{API3}/traces/{trace_id(1)}/assessments",
            json={
                "assessment": {
                    "assessment_name": "correct",
                    "feedback": {"value": True},
                    "source": {"source_type": "HUMAN", "source_id": "ada"},
                    "rationale": "Paris it is",
                }
            },
        ).raise_for_status()
    return exp, run


async def test_traces_tab_and_trace_view(tmp_path: Path, store_uri: str, page, shots: Path) -> None:
    server = ServerProcess(tmp_path, store_uri).start()
    try:
        exp, run = _seed(server.url)
        out = shots / Path(store_uri.split(":")[0])
        out.mkdir(parents=True, exist_ok=True)
        await _flow(server.url, exp, run, page, out)
    finally:
        server.stop()


async def _flow(base: str, exp: str, run: str, page, shots: Path) -> None:
    # The experiment's runs page has a Traces tab.
    await page.goto(f"{base}/#/experiments/{exp}")
    await page.get_by_role("link", name="Traces").click()
    rows = page.locator("#traces-table tbody tr")
    await expect(rows).to_have_count(3)
    names = await page.locator("#traces-table tbody td.name a").all_inner_texts()
    assert names == ["agent-3", "agent-2", "agent-1"]  # newest first
    await expect(rows.first).to_contain_text("hi")
    await expect(page.locator("#traces-table")).to_contain_text("120 ms")
    await page.screenshot(path=shots / "traces.png", full_page=True)

    # The state filter, then the filter language (a bad filter shows the server's message).
    await page.get_by_label("State").select_option(label="Error")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("divide by zero")
    await page.get_by_label("State").select_option(label="Any state")
    await expect(rows).to_have_count(3)
    search = page.get_by_label("Filter traces")
    await search.fill("tags.env = 'prod'")
    await search.press("Enter")
    await expect(rows).to_have_count(1)
    await search.fill("tags.env >> 'x'")
    await search.press("Enter")
    await expect(page.locator(".filter-error")).to_contain_text("Invalid filter")
    await search.fill("")
    await search.press("Enter")
    await expect(rows).to_have_count(3)

    # The failed trace: its span tree with the timeline; choosing a span shows it.
    await page.get_by_role("link", name="agent-2").click()
    spans = page.locator("#spans tbody tr")
    await expect(spans).to_have_count(2)
    assert await page.locator("#spans tbody td.name").all_inner_texts() == ["agent", "search_tool"]
    await expect(page.locator("#spans .bar")).to_have_count(2)
    await expect(page.locator("#span-detail")).to_contain_text(
        "divide by zero"
    )  # the root's inputs
    await spans.nth(1).click()
    detail = page.locator("#span-detail")
    await expect(detail).to_have_attribute("data-span", "search_tool")
    await expect(detail).to_contain_text("ZeroDivisionError: division by zero")
    await expect(page.locator("#span-attributes")).to_contain_text("top_k")
    await expect(page.locator("#span-events")).to_contain_text("exception")
    await page.screenshot(path=shots / "trace.png", full_page=True)

    # A trace with an assessment, and one that ran under a run, linking to it both ways.
    await page.goto(f"{base}/#/experiments/{exp}/traces/{trace_id(1)}")
    await expect(page.locator("#assessments")).to_contain_text("Paris it is")
    await page.goto(f"{base}/#/experiments/{exp}/traces/{trace_id(3)}")
    await page.locator("#trace-runs a").click()
    await expect(page.locator("h1")).to_contain_text("eval-run")
    await expect(page.locator("#run-traces")).to_contain_text("agent-3")
    await page.locator("#run-traces a").click()
    await expect(page.locator("h1")).to_have_text("agent-3")
