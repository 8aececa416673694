"""Tracing with the real mlflow client against a real trackledger server process, on
SQLite and PostgreSQL (the flow is in mlflow_tracing_flow.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.process import ServerProcess

pytestmark = pytest.mark.slow


def _run_flow(tmp_path: Path, url: str) -> dict:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    }
    script = Path(__file__).with_name("mlflow_tracing_flow.py")
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # The client must not have dropped anything on the way.
    assert "Failed to send trace" not in done.stderr, done.stderr
    assert "Failed to log span" not in done.stderr, done.stderr
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_tracing_with_the_mlflow_client(tmp_path, store_uri):
    server = ServerProcess(tmp_path, store_uri).start()
    try:
        r = _run_flow(tmp_path, server.url)
    finally:
        server.stop()
    assert r["answer"] == "Paris is in France"
    assert r["state"] == "OK"
    assert json.loads(r["request_preview"]) == {"question": "Where is Paris?", "city": "Paris"}
    assert r["tags"]["env"] == "prod" and r["tags"]["mlflow.traceName"] == "agent"
    assert r["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert r["metadata"]["session"] == "s1"
    # The root first, then by start time.
    assert [s["name"] for s in r["spans"]] == ["agent", "retrieve", "lookup", "lookup"]
    spans = {s["name"]: s for s in r["spans"]}
    retrieve = spans["retrieve"]
    assert retrieve["parent"] == "agent" and retrieve["type"] == "RETRIEVER"
    assert retrieve["inputs"] == {"query": "Where is Paris?"}
    assert retrieve["outputs"] == [{"doc": "Paris is in France"}]
    assert retrieve["attributes"] == {"top_k": 3, "score": 0.75, "filters": ["fr", "eu"]}
    lookups = [s for s in r["spans"] if s["name"].startswith("lookup")]
    assert sorted(s["status"] for s in lookups) == ["ERROR", "OK"]
    failed_lookup = next(s for s in lookups if s["status"] == "ERROR")
    assert failed_lookup["events"] == ["exception"] and failed_lookup["parent"] == "agent"
    assert spans["agent"]["outputs"] == "Paris is in France"

    # Tags and assessments.
    assert r["assessed_tags"]["reviewed"] == "yes" and "env" not in r["assessed_tags"]
    assert r["override_overrides"] is True
    assert r["assessments"] == [
        ["correct", False, True, "matches the atlas"],
        ["correct", True, False, "on review"],
    ]

    # Searches: pandas and lists, by status, tag, run and span type.
    assert {"trace_id", "spans", "assessments", "tags", "state"} <= set(r["frame_columns"])
    assert r["frame_ids"] == sorted([r["first"], r["failed"], r["in_run"], r["manual"]])
    assert r["frame_spans"] == [1, 1, 4, 4]
    assert r["errors"] == [r["failed"]]
    assert "exception" in r["error_events"]
    assert r["prod"] == [r["in_run"]]  # the first trace's env tag was deleted
    assert r["by_run"] == sorted([r["in_run"], r["manual"]])
    assert r["retrievers"] == sorted([r["first"], r["in_run"]])

    # A plain OpenTelemetry exporter.
    assert r["otel_tags"]["service.name"] == "plain-otel"
    otel = {s["name"]: s for s in r["otel_spans"]}
    assert otel["otel-child"]["parent"] == "otel-root"
    assert otel["otel-root"]["attributes"]["answer"] == 42
    assert otel["otel-child"]["events"] == ["checkpoint"]

    assert r["deleted"] == 1
    assert r["after_delete"] == sorted([r["first"], r["in_run"], r["manual"], r["otel"]])
