"""64 concurrent clients on one SQLite server: no "database is locked", no lost points."""

from __future__ import annotations

import asyncio

import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"
CLIENTS = 64
REQUESTS = 15
POINTS = 50


async def _client(url: str, worker: int, shared: list[str], own: str, errors: list[str]) -> None:
    async with loopback.async_client(base_url=url, timeout=60) as http:
        for request in range(REQUESTS):
            # Alternate between a run shared with other clients and the client's own run.
            run_id = shared[worker % len(shared)] if request % 2 else own
            metrics = [
                {
                    "key": f"c{worker}",
                    "value": request * POINTS + i,
                    "timestamp": request,
                    "step": request * POINTS + i,
                }
                for i in range(POINTS)
            ]
            response = await http.post(
                f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}
            )
            if response.status_code != 200:
                errors.append(response.text)


async def test_64_concurrent_clients_lose_nothing(tmp_path, store_uri):
    server = ServerProcess(tmp_path, store_uri).start()
    try:
        async with loopback.async_client(base_url=server.url, timeout=60) as http:

            async def new_run() -> str:
                response = await http.post(f"{API}/runs/create", json={"experiment_id": "0"})
                return str(response.json()["run"]["info"]["run_id"])

            shared = [await new_run() for _ in range(4)]
            own = [await new_run() for _ in range(CLIENTS)]
            errors: list[str] = []
            await asyncio.gather(
                *(_client(server.url, w, shared, own[w], errors) for w in range(CLIENTS))
            )
            assert errors == []
            for worker in range(CLIENTS):
                points = 0
                for run_id in (own[worker], shared[worker % len(shared)]):
                    params = {"run_id": run_id, "metric_key": f"c{worker}"}
                    body = (await http.get(f"{API}/metrics/get-history", params=params)).json()
                    points += len(body.get("metrics", []))
                assert points == REQUESTS * POINTS, f"client {worker} lost points"
        log = server.log.read_text()
        assert "database is locked" not in log
    finally:
        server.stop()
