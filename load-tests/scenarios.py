"""Ingest scenarios: what each worker sends, and how many points the server must then hold.

Steps never repeat a (run, key, step) across warm-up and rounds, so every acknowledged
point is a distinct point the server must keep; ``stored_points`` counts them through the
API afterwards, the same way on every server.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from loadgen import Connection, Planned

__all__ = ["SCENARIOS", "Ingest"]

API = "/api/2.0/mlflow"
KEYS = [f"metric_{i}" for i in range(10)]


async def _create_run(conn: Connection, experiment_id: str = "0") -> str:
    status, body = await conn.request(
        "POST", f"{API}/runs/create", {"experiment_id": experiment_id, "start_time": 1}
    )
    if status != 200:
        raise RuntimeError(f"runs/create failed: {status} {body[:200]!r}")
    run_id: str = orjson.loads(body)["run"]["info"]["run_id"]
    return run_id


@dataclass
class Ingest:
    """A scenario: one run per worker, then ``step`` calls until time or budget runs out."""

    name: str
    description: str
    points_per_request: int
    runs: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    episodes: dict[int, list[str]] = field(default_factory=dict)
    counters: dict[int, itertools.count[int]] = field(default_factory=dict)

    async def setup(self, port: int, workers: int) -> None:
        conn = Connection(port)
        try:
            self.runs = [await _create_run(conn) for _ in range(workers)]
        finally:
            await conn.close()
        self.counters = {w: itertools.count() for w in range(workers)}
        self.keys = KEYS if self.points_per_request > 1 else ["loss"]

    def step(self, worker: int, _: int) -> Planned | None:
        n = next(self.counters[worker])
        run_id = self.runs[worker]
        if self.name == "single":
            body = {"run_id": run_id, "key": "loss", "value": n * 0.001, "timestamp": n, "step": n}
            return Planned("POST", f"{API}/runs/log-metric", body, 1)
        metrics = [
            {
                "key": KEYS[j % 10],
                "value": (n + j) * 0.001,
                "timestamp": n,
                "step": n * 10 + j // 10,
            }
            for j in range(100)
        ]
        return Planned("POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics}, 100)

    async def stored_points(self, port: int) -> int:
        conn = Connection(port)
        total = 0
        try:
            for run_id in self.runs:
                for key in self.keys:
                    total += await _history_length(conn, run_id, key)
        finally:
            await conn.close()
        return total


async def _history_length(conn: Connection, run_id: str, key: str) -> int:
    status, body = await conn.request(
        "GET", f"{API}/metrics/get-history?run_id={run_id}&metric_key={key}"
    )
    if status != 200:
        raise RuntimeError(f"get-history failed: {status} {body[:200]!r}")
    return len(orjson.loads(body).get("metrics", []))


class TrainingLoop(Ingest):
    """Per episode: create a run, log 10 params, 20 steps of 3 metrics, 2 tags, finish."""

    STEPS = 20

    def __init__(self) -> None:
        super().__init__("mix", "training loop: create, params, metric per step, tags, end", 3)
        self.current: dict[int, str | None] = {}
        self.phase: dict[int, int] = {}

    async def setup(self, port: int, workers: int) -> None:
        self.keys = ["loss", "accuracy", "lr"]
        self.episodes = {w: [] for w in range(workers)}
        self.current = dict.fromkeys(range(workers))
        self.phase = dict.fromkeys(range(workers), 0)
        self.counters = {w: itertools.count() for w in range(workers)}

    def _created(self, worker: int) -> Callable[[bytes], None]:
        def on_ok(body: bytes) -> None:
            run_id = orjson.loads(body)["run"]["info"]["run_id"]
            self.current[worker] = run_id
            self.episodes[worker].append(run_id)
            self.phase[worker] = 1

        return on_ok

    def step(self, worker: int, _: int) -> Planned | None:
        run_id = self.current[worker]
        n = next(self.counters[worker])
        if run_id is None:  # a failed create is simply tried again
            body = {"experiment_id": "0", "run_name": f"w{worker}-{n}", "start_time": n}
            return Planned("POST", f"{API}/runs/create", body, 0, self._created(worker))
        phase = self.phase[worker]
        self.phase[worker] = phase + 1
        if phase == 1:
            params = [{"key": f"param_{i}", "value": str(i)} for i in range(10)]
            return Planned("POST", f"{API}/runs/log-batch", {"run_id": run_id, "params": params}, 0)
        if phase <= self.STEPS + 1:
            s = phase - 2
            metrics = [{"key": k, "value": s * 0.01, "timestamp": n, "step": s} for k in self.keys]
            body = {"run_id": run_id, "metrics": metrics}
            return Planned("POST", f"{API}/runs/log-batch", body, 3)
        if phase <= self.STEPS + 3:
            body = {"run_id": run_id, "key": f"tag_{phase}", "value": "done"}
            return Planned("POST", f"{API}/runs/set-tag", body, 0)
        self.current[worker] = None
        body = {"run_id": run_id, "status": "FINISHED", "end_time": n}
        return Planned("POST", f"{API}/runs/update", body, 0)

    async def stored_points(self, port: int) -> int:
        conn = Connection(port)
        total = 0
        try:
            for runs in self.episodes.values():
                for run_id in runs:
                    for key in self.keys:
                        total += await _history_length(conn, run_id, key)
        finally:
            await conn.close()
        return total


def SCENARIOS() -> dict[str, Ingest]:
    """Fresh scenario objects (they keep per-run state)."""
    return {
        "batch": Ingest("batch", "log-batch, 100 metric points per request", 100),
        "single": Ingest("single", "log-metric, one point per request", 1),
        "mix": TrainingLoop(),
    }
