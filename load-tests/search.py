"""The search scenario: load many runs through the API, then time pages of filtered searches.

Each run has 10 params (one of them a number, ``lr``), 10 metrics with 5 steps of history
each, and 2 tags. Every query asks for a page of 100 and runs ``--repeats x 20`` times one
after the other; the table reports p50 and p95 latency and the page's run count.
Extensions MLflow's server rejects (numeric param comparison, MIN/MAX, OR, IN) are skipped on
MLflow targets.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import orjson
from loadgen import Connection, Planned, run_workers
from servers import start

API = "/api/2.0/mlflow"
STEPS = 5

#: (name, filter, order_by, MLflow accepts it)
QUERIES = [
    ("newest page (no filter)", "", [], True),
    ("metric filter, metric order", "metrics.m1 > 0.5", ["metrics.m2 DESC"], True),
    ("param equality", "params.p3 = 'v3'", [], True),
    ("tag and metric", "tags.team = 'a' AND metrics.m3 <= 0.2", ["start_time ASC"], True),
    ("run name LIKE", "attributes.run_name LIKE 'run-1%'", [], True),
    ("numeric param <", "params.lr < 0.01", ["metrics.m0 ASC"], False),
    ("MIN() over history", "MIN(metrics.m4) < 0.05", [], False),
    ("MAX() and OR", "MAX(metrics.m5) > 0.95 OR tags.team IN ('b', 'c')", [], False),
]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Loader:
    """Worker steps that create runs and log their data, two requests per run."""

    def __init__(self, total: int, workers: int, experiment_id: str) -> None:
        self.total = total
        self.experiment_id = experiment_id
        self.next_run = itertools.count()
        self.pending: dict[int, tuple[int, str]] = {}
        self.done = 0

    def step(self, worker: int, _: int) -> Planned | None:
        if worker in self.pending:
            index, run_id = self.pending.pop(worker)
            return Planned(
                "POST", f"{API}/runs/log-batch", self._data(index, run_id), 50, self._logged
            )
        index = next(self.next_run)
        if index >= self.total:
            return None
        body = {
            "experiment_id": self.experiment_id,
            "run_name": f"run-{index}",
            "start_time": 1_700_000_000_000 + index,
        }
        return Planned("POST", f"{API}/runs/create", body, 0, self._created(worker, index))

    def _created(self, worker: int, index: int):  # type: ignore[no-untyped-def]
        def on_ok(body: bytes) -> None:
            self.pending[worker] = (index, orjson.loads(body)["run"]["info"]["run_id"])

        return on_ok

    def _logged(self, _: bytes) -> None:
        self.done += 1
        if self.done % 10_000 == 0:
            _progress(f"  loaded {self.done:,} of {self.total:,} runs")

    @staticmethod
    def _data(index: int, run_id: str) -> dict[str, object]:
        # Deterministic pseudo-random values in [0, 1).
        def value(m: int, s: int) -> float:
            return ((index * 7919 + m * 104729 + s * 1299709) % 10007) / 10007

        metrics = [
            {"key": f"m{m}", "value": value(m, s), "timestamp": 1000 + s, "step": s}
            for m in range(10)
            for s in range(STEPS)
        ]
        params = [{"key": f"p{p}", "value": f"v{(index + p) % 10}"} for p in range(9)]
        params.append({"key": "lr", "value": str((index % 100) / 1000)})
        tags = [
            {"key": "team", "value": "abcd"[index % 4]},
            {"key": "batch", "value": str(index % 10)},
        ]
        return {"run_id": run_id, "metrics": metrics, "params": params, "tags": tags}


async def _experiment(conn: Connection) -> str:
    status, body = await conn.request("POST", f"{API}/experiments/create", {"name": "search-bench"})
    if status != 200:
        raise RuntimeError(f"experiments/create failed: {status} {body[:200]!r}")
    experiment_id: str = orjson.loads(body)["experiment_id"]
    return experiment_id


async def _time_query(
    conn: Connection, experiment_id: str, filter_: str, order_by: list[str], times: int
) -> tuple[list[float], int]:
    body = {
        "experiment_ids": [experiment_id],
        "filter": filter_,
        "max_results": 100,
        "order_by": order_by,
    }
    latencies, found = [], 0
    for _ in range(times):
        started = time.perf_counter()
        status, data = await conn.request("POST", f"{API}/runs/search", body)
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"search {filter_!r} failed: {status} {data[:300]!r}")
        found = len(orjson.loads(data).get("runs", []))
    return latencies, found


async def run_search(args: argparse.Namespace) -> str:
    targets = args.targets.split(",")
    lines = [
        f"search: {args.search_runs:,} runs x 10 params x 10 metrics ({STEPS} steps each), "
        f"pages of 100, {args.repeats * 20} sequential requests per query",
        "",
        "| target | query | p50 ms | p95 ms | runs in page |",
        "|---|---|---:|---:|---:|",
    ]
    for target in targets:
        server = await start(target, Path(args.workdir) / target / "search", args.server_workers)
        try:
            conn = Connection(server.port)
            experiment_id = await _experiment(conn)
            # MLflow's server runs out of database connections at 32; load it gently.
            workers = 4 if target.startswith("mlflow") else args.concurrency
            loader = Loader(args.search_runs, workers, experiment_id)
            _progress(f"{target}: loading {args.search_runs:,} runs through the API ...")
            started = time.perf_counter()
            loaded = await run_workers(
                server.port,
                workers,
                loader.step,
                seconds=24 * 3600,
                max_requests=2 * args.search_runs + workers,
            )
            if loaded.errors:
                raise RuntimeError(f"loading failed: {loaded.first_errors}")
            await conn.close()  # idle during loading: servers drop it; time on a fresh one
            conn = Connection(server.port)
            _progress(
                f"{target}: loaded in {time.perf_counter() - started:.0f} s "
                f"({loaded.points / (time.perf_counter() - started):,.0f} points/s)"
            )
            for name, filter_, order_by, mlflow_accepts in QUERIES:
                if target.startswith("mlflow") and not mlflow_accepts:
                    lines.append(f"| {target} | {name} | n/a | n/a | MLflow rejects it |")
                    continue
                await _time_query(conn, experiment_id, filter_, order_by, 3)  # warm-up
                latencies, found = await _time_query(
                    conn, experiment_id, filter_, order_by, args.repeats * 20
                )
                p95 = statistics.quantiles(latencies, n=20)[-1]
                lines.append(
                    f"| {target} | {name}: `{filter_ or '-'}` {' '.join(order_by)} "
                    f"| {statistics.median(latencies):.1f} | {p95:.1f} | {found} |"
                )
                _progress("  " + lines[-1])
            await conn.close()
        finally:
            server.stop()
    return "\n".join(lines)
