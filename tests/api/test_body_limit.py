"""Request bodies over the limit are refused before they are held in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import API, error, new_run
from trackledger.api.app import create_app
from trackledger.services.artifact_store import LocalArtifactStore
from trackledger.services.backends import Backend

LIMIT = 10_000


@pytest.fixture
async def small(backend: Backend, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async def given() -> Backend:
        return backend

    app = create_app(
        given, artifact_store=LocalArtifactStore(tmp_path / "a"), max_body_bytes=LIMIT
    )
    app.state.backend = backend
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _batch(run_id: str, points: int) -> dict:
    metrics = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(points)]
    return {"run_id": run_id, "metrics": metrics}


async def test_a_body_announced_too_large_is_refused_unread(small, events):
    run_id = await new_run(small, "0")
    before = await events()
    response = await small.post(f"{API}/runs/log-batch", json=_batch(run_id, 1_000))
    message = error(response, "INVALID_PARAMETER_VALUE", 413)
    assert "limit of 10,000 bytes" in message
    assert response.headers["connection"] == "close"
    assert await events() == before


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(small, events):
    run_id = await new_run(small, "0")
    before = await events()
    body = httpx.Request("POST", "/", json=_batch(run_id, 1_000)).content
    chunks_sent = 0

    async def chunks():  # no content-length: the body is counted as it arrives
        nonlocal chunks_sent
        for start in range(0, len(body), 1_000):
            chunks_sent += 1
            yield body[start : start + 1_000]

    response = await small.post(
        f"{API}/runs/log-batch", content=chunks(), headers={"content-type": "application/json"}
    )
    error(response, "INVALID_PARAMETER_VALUE", 413)
    assert await events() == before


async def test_bodies_under_the_limit_and_artifact_uploads_pass(small):
    run_id = await new_run(small, "0")
    assert (await small.post(f"{API}/runs/log-batch", json=_batch(run_id, 10))).status_code == 200
    put = await small.put(
        f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/big.bin", content=b"x" * 50_000
    )
    assert put.status_code == 200, put.text
