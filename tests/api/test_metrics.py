"""Prometheus metrics at /metrics, behind --expose-prometheus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import loopback
from tests.api.helpers import API, new_run
from tests.server.process import ServerProcess
from trackledger.api.app import create_app
from trackledger.services.backends import Backend


@pytest.fixture
async def exposed(backend: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async def given() -> Backend:
        return backend

    app = create_app(given, expose_prometheus=True, open_connections=lambda: 7)
    app.state.backend = backend
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_requests_and_the_write_path_are_counted(exposed):
    run_id = await new_run(exposed, "0")
    point = {"key": "m", "value": 1, "timestamp": 1, "step": 1}
    for _ in range(3):
        await exposed.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": [point]})
    await exposed.get(f"/api/2.0/mlflow/logged-models/{'x' * 32}")
    response = await exposed.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    batch = (("method", "POST"), ("route", f"{API}/runs/log-batch"), ("status", "200"))
    assert samples[("trackledger_http_requests_total", batch)] == 3
    # Ids in paths do not become label values.
    missing = (
        ("method", "GET"),
        ("route", "/api/2.0/mlflow/logged-models/{model_id}"),
        ("status", "404"),
    )
    assert samples[("trackledger_http_requests_total", missing)] == 1
    assert samples[("trackledger_write_commands_total", ())] >= 4
    assert samples[("trackledger_log_position", ())] >= 4
    assert samples[("trackledger_open_connections", ())] == 7
    assert ("trackledger_writer_queue_depth", ()) in samples


async def test_no_metrics_unless_asked(client):
    assert (await client.get("/metrics")).status_code == 404


@pytest.mark.slow
def test_a_server_with_expose_prometheus_serves_metrics(tmp_path):
    server = ServerProcess(tmp_path, None, "--expose-prometheus").start()
    try:
        loopback.get(f"{server.url}/health")
        samples = _samples(loopback.get(f"{server.url}/metrics").text)
        assert samples[("trackledger_open_connections", ())] >= 1
        assert any(name == "trackledger_fsyncs_total" for name, _ in samples)
    finally:
        server.stop()
