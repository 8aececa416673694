"""PostgreSQL going away: every request gets 503 with Retry-After (never 500), and the
server recovers by itself when the database is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.api.helpers import API, new_run
from tests.faults.tcp_proxy import TcpProxy
from trackledger.api.app import create_app
from trackledger.services.backends import Backend, open_backend


@pytest.fixture
async def proxy(postgres_uri: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    parts = urlsplit(postgres_uri)
    relay = await TcpProxy(parts.port or 5432, parts.hostname or "127.0.0.1").start()
    netloc = f"{parts.username}@127.0.0.1:{relay.port}"
    try:
        yield relay, urlunsplit(parts._replace(netloc=netloc))
    finally:
        await relay.cut()


@pytest.fixture
async def through_proxy(proxy) -> AsyncIterator[tuple[TcpProxy, httpx.AsyncClient]]:
    relay, uri = proxy
    backend = await open_backend(uri)

    async def given() -> Backend:
        return backend

    app = create_app(given)
    app.state.backend = backend
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield relay, client
    finally:
        await relay.start()  # so the pool can close cleanly
        await backend.close()


def _requests(run_id: str) -> list[tuple[str, str, dict]]:
    point = {"key": "m", "value": 1.0, "timestamp": 1, "step": 1}
    return [
        ("POST", "runs/create", {"experiment_id": "0"}),
        ("POST", "runs/log-batch", {"run_id": run_id, "metrics": [point]}),
        ("POST", "runs/log-metric", {"run_id": run_id, **point}),
        ("POST", "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        ("GET", "runs/get", {"run_id": run_id}),
        ("POST", "runs/search", {"experiment_ids": ["0"]}),
        ("POST", "experiments/search", {"max_results": 10}),
        ("GET", "metrics/get-history", {"run_id": run_id, "metric_key": "m"}),
    ]


async def _call(client: httpx.AsyncClient, method: str, path: str, body: dict) -> httpx.Response:
    if method == "GET":
        return await client.get(f"{API}/{path}", params=body)
    return await client.post(f"{API}/{path}", json=body)


@pytest.mark.timeout(120)
async def test_requests_get_503_while_postgres_is_down_and_recover_after(through_proxy):
    relay, client = through_proxy
    run_id = await new_run(client, "0")
    await relay.cut()
    for method, path, body in _requests(run_id):
        response = await _call(client, method, path, body)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert response.headers["retry-after"] == "1"
    health = await client.get("/health")
    assert health.status_code == 503
    await relay.start()
    deadline = time.monotonic() + 60
    while True:  # the pool reconnects by itself; no restart of the server
        statuses = [(await _call(client, *request)).status_code for request in _requests(run_id)]
        if all(status == 200 for status in statuses) or time.monotonic() > deadline:
            break
        assert set(statuses) <= {200, 503}, statuses
        await asyncio.sleep(0.2)
    assert all(status == 200 for status in statuses), statuses
