"""Repeated SIGKILL (and, where allowed, a PostgreSQL restart) under concurrent load, with
clients that retry with the same Idempotency-Key: every acknowledged point is found, no
batch lands twice, and the projections equal a replay of the log.

CI runs FAULT_ROUNDS=2 rounds per backend; ``scripts/faults`` runs the long version.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys

import httpx
import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

API = "/api/2.0/mlflow"
ROUNDS = int(os.environ.get("FAULT_ROUNDS", "2"))
WRITERS = 8


class Ledger:
    """What the clients were told: acknowledged batches, by writer."""

    def __init__(self) -> None:
        self.acked: dict[int, list[int]] = {w: [] for w in range(WRITERS)}
        self.points = 0


async def _write(http: httpx.AsyncClient, run_id: str, writer: int, batch: int) -> bool:
    """Send one batch until it is answered; a retry carries the same key. False if the
    server stays away (the round is over)."""
    key = f"{run_id}-{writer}-{batch}"
    body = {
        "run_id": run_id,
        "metrics": [
            {"key": f"w{writer}", "value": batch, "timestamp": batch, "step": batch * 10 + i}
            for i in range(10)
        ],
    }
    for _ in range(200):
        try:
            response = await http.post(
                f"{API}/runs/log-batch", json=body, headers={"Idempotency-Key": key}
            )
        except httpx.HTTPError:
            await asyncio.sleep(0.05)
            continue
        if response.status_code == 200:
            return True
        assert response.status_code == 503, response.text
        await asyncio.sleep(0.05)
    return False


async def _writer(http, run_id: str, writer: int, ledger: Ledger, stop: asyncio.Event) -> None:
    batch = len(ledger.acked[writer])
    while not stop.is_set():
        if not await _write(http, run_id, writer, batch):
            return
        ledger.acked[writer].append(batch)
        ledger.points += 10
        batch += 1


def _restart_postgres() -> None:
    clusters = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout.split()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[0], clusters[1], "restart"],
        check=True,
        capture_output=True,
    )


def _may_restart_postgres(store_uri: str) -> bool:
    return store_uri.startswith("postgresql") and os.environ.get("FAULT_PG_RESTART") == "1"


async def test_kill_rounds_lose_nothing_and_apply_retries_once(tmp_path, store_uri):
    server = ServerProcess(tmp_path, store_uri).start()
    rng = random.Random(ROUNDS)
    try:
        async with loopback.async_client(base_url=server.url, timeout=10) as http:
            created = await http.post(f"{API}/runs/create", json={"experiment_id": "0"})
            run_id = created.json()["run"]["info"]["run_id"]
        ledger = Ledger()
        for round_ in range(ROUNDS):
            stop = asyncio.Event()
            async with loopback.async_client(base_url=server.url, timeout=10) as http:
                writers = [
                    asyncio.create_task(_writer(http, run_id, w, ledger, stop))
                    for w in range(WRITERS)
                ]
                await asyncio.sleep(0.5 + rng.random())
                if round_ % 2 == 1 and _may_restart_postgres(store_uri):
                    await asyncio.to_thread(_restart_postgres)
                else:
                    server.kill()
                    await asyncio.sleep(0.2)
                    server.start()  # the clients retry the batches they were sending
                await asyncio.sleep(0.5)
                stop.set()
                await asyncio.gather(*writers)
        print(f"{ROUNDS} rounds, {ledger.points:,} acknowledged points")
        async with loopback.async_client(base_url=server.url, timeout=30) as http:
            for writer, batches in ledger.acked.items():
                steps = await _steps(http, run_id, f"w{writer}")
                expected = {b * 10 + i for b in batches for i in range(10)}
                assert expected <= set(steps), sorted(expected - set(steps))[:10]
            logged = [e for e in await _history(http, run_id) if e["type"] != "run.created"]
            acked = sum(len(b) for b in ledger.acked.values())
            assert len(logged) == acked, "a retried batch was appended twice, or one was lost"
    finally:
        server.stop()
    done = subprocess.run(
        [sys.executable, "-m", "trackledger", "verify", "--backend-store-uri", store_uri],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def _steps(http: httpx.AsyncClient, run_id: str, key: str) -> list[int]:
    steps: list[int] = []
    params = {"run_id": run_id, "metric_key": key, "max_results": 25_000}
    while True:
        page = (await http.get(f"{API}/metrics/get-history", params=params)).json()
        steps.extend(int(m["step"]) for m in page.get("metrics", []))
        if not page.get("next_page_token"):
            return steps
        params["page_token"] = page["next_page_token"]


async def _history(http: httpx.AsyncClient, run_id: str) -> list[dict]:
    events: list[dict] = []
    params = {"run_id": run_id, "max_results": 1000}
    while True:
        page = (await http.get("/api/2.0/trackledger/runs/history", params=params)).json()
        events.extend(page.get("events", []))
        if "next_page_token" not in page:
            return events
        params["page_token"] = page["next_page_token"]
