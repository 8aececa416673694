"""Three server processes on one PostgreSQL database, 48 clients, and a tailing reader."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests import loopback
from tests.conftest import count_events, stored_positions
from tests.server.process import ServerProcess
from trackledger.services.backends import open_backend

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"
CLIENTS = 48
REQUESTS = 10
POINTS = 20


async def _client(
    urls: list[str], worker: int, shared: list[str], own: str, errors: list[str]
) -> None:
    async with loopback.async_client(base_url=urls[worker % len(urls)], timeout=60) as http:
        for request in range(REQUESTS):
            run_id = shared[worker % len(shared)] if request % 2 else own
            body = {
                "run_id": run_id,
                "metrics": [
                    {
                        "key": f"c{worker}",
                        "value": i,
                        "timestamp": request,
                        "step": request * POINTS + i,
                    }
                    for i in range(POINTS)
                ],
                "params": [{"key": f"p{worker}_{request}", "value": "x"}],
                "tags": [{"key": "last", "value": f"{worker}:{request}"}],
            }
            response = await http.post(f"{API}/runs/log-batch", json=body)
            if response.status_code != 200:
                errors.append(response.text)
        # The same request, with one key, to every server at once: appended once.
        key = {"Idempotency-Key": f"once-{worker}"}
        body = {"run_id": own, "tags": [{"key": "once", "value": str(worker)}]}
        responses = await asyncio.gather(
            *(http.post(f"{url}{API}/runs/log-batch", json=body, headers=key) for url in urls)
        )
        errors.extend(r.text for r in responses if r.status_code != 200)


async def _tail(uri: str, seen: list, stop: asyncio.Event) -> None:
    backend = await open_backend(uri)
    try:
        cursor = None
        caught_up_by = None
        while True:
            stopping = stop.is_set()
            batch = await backend.store.read_all(after=cursor, limit=500)
            seen.extend(batch)
            if batch:
                cursor = batch[-1].cursor
                continue
            if stopping:
                # The writes are over, but a server's appending transaction may still hold the
                # tail back: it stops once it has read as many events as the table holds, or
                # after 60 s (the test then reports what it missed).
                caught_up_by = caught_up_by or time.monotonic() + 60
                held = len(seen) < await count_events(backend)
                if not held or time.monotonic() > caught_up_by:
                    return
            await asyncio.sleep(0.02)
    finally:
        await backend.close()


async def test_three_servers_48_clients_and_a_tailing_reader(tmp_path, postgres_uri):
    servers = [ServerProcess(tmp_path, postgres_uri).start() for _ in range(3)]
    seen: list = []
    stop = asyncio.Event()
    tail = asyncio.create_task(_tail(postgres_uri, seen, stop))
    try:
        async with loopback.async_client(timeout=60) as http:

            async def new_run(server: ServerProcess) -> str:
                created = await http.post(
                    f"{server.url}{API}/runs/create", json={"experiment_id": "0"}
                )
                return str(created.json()["run"]["info"]["run_id"])

            shared = [await new_run(servers[i % 3]) for i in range(4)]
            own = [await new_run(servers[w % 3]) for w in range(CLIENTS)]
            errors: list[str] = []
            urls = [server.url for server in servers]
            await asyncio.gather(
                *(_client(urls, w, shared, own[w], errors) for w in range(CLIENTS))
            )
            assert errors == []
            for worker in range(CLIENTS):
                points = 0
                for run_id in (own[worker], shared[worker % len(shared)]):
                    params = {"run_id": run_id, "metric_key": f"c{worker}"}
                    url = f"{servers[worker % 3].url}{API}/metrics/get-history"
                    points += len((await http.get(url, params=params)).json().get("metrics", []))
                assert points == REQUESTS * POINTS, f"client {worker} lost points"
    finally:
        stop.set()
        await tail
        for server in servers:
            server.stop()

    backend = await open_backend(postgres_uri)
    try:
        # Every event in the table (not read_all: it may hold back the newest, see _tail).
        everything = await stored_positions(backend)
        # Check replay equals the live projections after concurrent writers in 3 processes.
        assert await backend.verify() == {}
    finally:
        await backend.close()
    # Check the tailing reader saw every event exactly once, in strictly rising order.
    assert sorted(e.position for e in seen) == everything
    order = [tuple(map(int, e.cursor.split("."))) for e in seen]
    assert order == sorted(order)
    once = [e for e in seen if e.idempotency_key and e.idempotency_key.startswith("once-")]
    assert len(once) == CLIENTS
