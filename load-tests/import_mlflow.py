"""Time ``trackledger import-mlflow`` from an MLflow SQLite database.

    python load-tests/import_mlflow.py                  # 10,000 runs x 10 params x 10 metrics
                                                        # x 100 steps: 10,000,000 points
    python load-tests/import_mlflow.py --runs 1000 --store postgresql://postgres@127.0.0.1/x

The MLflow database is made by MLflow's own ``SqlAlchemyStore`` on an empty file (so its
schema is exactly MLflow's, migrations and all), then filled directly with SQL in that
schema: one experiment, runs with their tags and params, every metric point and the
latest-metrics rows MLflow keeps beside them. It is kept in ``--workdir`` and reused while
its shape is the same. The import runs as a user runs it (the CLI in a process of its own)
into a new store, timed from start to exit; then the store is checked to hold every point,
and a second import into the same store (which finds nothing new) is timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

T0 = 1_700_000_000_000


def make_source(path: Path, runs: int, params: int, metrics: int, steps: int) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    for suffix in ("", "-wal", "-shm", ".shape"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SqlAlchemyStore(f"sqlite:///{path}", str(path.parent / "mlartifacts"))
    store.engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
        "creation_time, last_update_time) VALUES (1, 'bench', 'mlflow-artifacts:/1', 'active', "
        "?, ?)",
        (T0, T0),
    )
    started = time.perf_counter()
    for r in range(runs):
        run_id = uuid.UUID(int=r + 1).hex
        start = T0 + r * 1000
        conn.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id, deleted_time) VALUES "
            "(?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, 1, NULL)",
            (run_id, f"run-{r}", start, start + 900, f"mlflow-artifacts:/1/{run_id}/artifacts"),
        )
        conn.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
            [
                ("mlflow.runName", f"run-{r}", run_id),
                ("mlflow.user", "bench", run_id),
                ("mlflow.source.type", "LOCAL", run_id),
            ],
        )
        conn.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(f"p{k}", str(r * k % 97), run_id) for k in range(params)],
        )
        points = [
            (f"m{k}", (r + k + s) % 1000 / 1000, start + s, run_id, s, 0)
            for k in range(metrics)
            for s in range(steps)
        ]
        conn.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            points,
        )
        conn.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(p[0], p[1], p[2], p[4], p[5], p[3]) for p in points[steps - 1 :: steps]],
        )
        if r and r % 1000 == 0:
            rate = r * metrics * steps / (time.perf_counter() - started)
            print(f"  made {r:,} of {runs:,} runs ({rate:,.0f} points/s)", file=sys.stderr)
    conn.execute("COMMIT")
    conn.close()


def import_once(source: Path, store: str, workdir: Path, fresh: bool = True) -> float:
    if fresh and store.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store[len('sqlite:///') :]}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trackledger",
            "import-mlflow",
            f"sqlite:///{source}",
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            str(workdir / "artifacts"),
        ],
        cwd=workdir,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed with status {done.returncode}")
    return seconds


async def held_points(store: str) -> int:
    from trackledger.services.backends import open_backend
    from trackledger.services.mlflow_target import fetcher

    backend = await open_backend(store)
    try:
        rows = await fetcher(backend)("SELECT COUNT(*) FROM metric_history", [])
        return int(rows[0][0])
    finally:
        await backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--params", type=int, default=10)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="imports to time")
    parser.add_argument("--store", help="target store URI (default: a new SQLite file)")
    parser.add_argument("--workdir", default="/tmp/trackledger-load/import-mlflow")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "mlflow.db"
    shape = json.dumps([args.runs, args.params, args.metrics, args.steps])
    shape_file = Path(f"{source}.shape")
    if not source.exists() or not shape_file.exists() or shape_file.read_text() != shape:
        print(f"making the MLflow database {source} ...", file=sys.stderr, flush=True)
        make_source(source, args.runs, args.params, args.metrics, args.steps)
        shape_file.write_text(shape)
    points = args.runs * args.metrics * args.steps
    store = args.store or f"sqlite:///{workdir / 'trackledger.db'}"
    seconds = []
    for i in range(args.repeats):
        if i and args.store:
            raise SystemExit("--repeats needs a fresh store each time: leave --store out")
        shutil.rmtree(workdir / "artifacts", ignore_errors=True)
        seconds.append(import_once(source, store, workdir))
        print(f"  import {i + 1}/{args.repeats}: {seconds[-1]:.1f} s", file=sys.stderr)
    held = asyncio.run(held_points(store))
    if held != points:
        raise SystemExit(f"the store holds {held:,} points, not {points:,}")
    again = import_once(source, store, workdir, fresh=False)
    print(f"  import again (nothing new): {again:.1f} s", file=sys.stderr)
    median = statistics.median(seconds)
    kind = store.split(":")[0]
    print(
        f"| import-mlflow | {kind} | {args.runs:,} runs, {points:,} points "
        f"| {median:.1f} s | {points / median:,.0f} points/s |"
    )
    print(f"| import-mlflow again, nothing new | {kind} | {args.runs:,} runs | {again:.1f} s | |")


if __name__ == "__main__":
    main()
