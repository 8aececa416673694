"""Three server processes, as if on three machines, on one PostgreSQL database and one
bucket, with a client spreading requests over them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

API = "/api/2.0/mlflow"


@pytest.fixture
def three(tmp_path, postgres_uri, bucket) -> Iterator[list[httpx.Client]]:
    servers = [
        ServerProcess(
            tmp_path / f"host{i}", postgres_uri, "--artifacts-destination", f"s3://{bucket}/a"
        )
        for i in range(3)
    ]
    for i, server in enumerate(servers):
        (tmp_path / f"host{i}").mkdir()
        server.start()
    clients = [loopback.client(base_url=s.url, timeout=30) for s in servers]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.stop()


def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def _feed(client: httpx.Client) -> list[tuple[int, str, str]]:
    events, after = [], ""
    while True:
        page = _ok(client.get("/api/2.0/trackledger/events", params={"after": after, "limit": 500}))
        events += [(e["position"], e["type"], e["stream_id"]) for e in page.get("events", [])]
        if not page.get("events"):
            return events
        after = page["next_cursor"]


def test_writes_retries_artifacts_and_the_feed_agree_across_processes(three):
    spread = itertools.cycle(three)
    exp = _ok(next(spread).post(f"{API}/experiments/create", json={"name": "shared"}))
    runs = []
    for i in range(9):
        body = {"experiment_id": exp["experiment_id"], "run_name": f"r{i}", "start_time": i}
        runs.append(_ok(next(spread).post(f"{API}/runs/create", json=body))["run"]["info"])
    for step in range(5):
        for info in runs:
            point = {"key": "loss", "value": 1 / (step + 1), "timestamp": step, "step": step}
            batch = {
                "run_id": info["run_id"],
                "metrics": [point],
                "tags": [{"key": "s", "value": str(step)}],
            }
            _ok(next(spread).post(f"{API}/runs/log-batch", json=batch))
    # Every write is visible through every process, the same.
    for info in runs:
        seen = [_ok(c.get(f"{API}/runs/get", params={"run_id": info["run_id"]})) for c in three]
        assert seen[0] == seen[1] == seen[2]
        assert seen[0]["run"]["data"]["metrics"][0]["step"] == 4
    search = {"experiment_ids": [exp["experiment_id"]], "order_by": ["metrics.loss ASC"]}
    found = [_ok(c.post(f"{API}/runs/search", json=search)) for c in three]
    assert found[0] == found[1] == found[2] and len(found[0]["runs"]) == 9

    # A retried request lands once, whichever process the retries reach.
    target = runs[0]["run_id"]
    retry = {"run_id": target, "params": [{"key": "seed", "value": "7"}]}
    answers = [
        _ok(c.post(f"{API}/runs/log-batch", json=retry, headers={"Idempotency-Key": "k-1"}))
        for c in three
    ]
    assert answers[0] == answers[1] == answers[2]
    history = _ok(three[2].get("/api/2.0/trackledger/runs/history", params={"run_id": target}))
    assert sum(1 for e in history["events"] if "seed" in str(e.get("data"))) == 1

    # An artifact written through one process reads back through the others (one bucket).
    path = f"/api/2.0/mlflow-artifacts/artifacts/{exp['experiment_id']}/{target}/artifacts/n.txt"
    assert three[0].put(path, content=b"shared bytes").status_code == 200
    assert three[1].get(path).content == three[2].get(path).content == b"shared bytes"

    # The event feed is the same total order through every process.
    feeds = [_feed(c) for c in three]
    assert feeds[0] == feeds[1] == feeds[2]
    assert len(feeds[0]) >= 1 + 9 + 45 + 1
