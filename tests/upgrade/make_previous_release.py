"""Make the "previous release" stores that the upgrade tests open with today's code.

Run it with the code of the release whose stores must keep opening (it was run with main at
231699b, the release before numbered SQLite migrations), from a checkout of that release:

    PYTHONPATH=. python tests/upgrade/make_previous_release.py OUT_DIR

It writes ``store.sqlite`` (SQLite), ``postgres.sql`` (a plain pg_dump of one schema, named
``tl_previous_release``) and ``answers-<backend>.json``: what the read endpoints answered on
that release, which the upgraded stores must answer unchanged.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx

try:  # the release that made the fixtures kept these modules beside the CLI
    from trackledger.services.backends import open_backend  # type: ignore[import-not-found]
except ImportError:
    from trackledger.backends import open_backend  # type: ignore[no-redef]

from tests.api.helpers import post
from tests.projections.workload import random_workload
from trackledger.api.app import create_app

SCHEMA = "tl_previous_release"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "trackledger_fixture"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        self.now += 7
        return self.now


async def fill(client: httpx.AsyncClient) -> None:
    await random_workload(client, seed=2026, steps=400)
    exp = (await post(client, "experiments/create", {"name": "models"})).json()["experiment_id"]
    run = (await post(client, "runs/create", {"experiment_id": exp, "start_time": 5})).json()
    run_id = run["run"]["info"]["run_id"]
    model = (
        await client.post(
            "/api/2.0/mlflow/logged-models",
            json={
                "experiment_id": exp,
                "name": "clf",
                "source_run_id": run_id,
                "params": [{"key": "alpha", "value": "0.5"}],
                "tags": [{"key": "flavor", "value": "sklearn"}],
            },
        )
    ).json()["model"]["info"]["model_id"]
    await client.patch(f"/api/2.0/mlflow/logged-models/{model}", json={"status": "READY"})
    await post(client, "runs/outputs", {"run_id": run_id, "models": [{"model_id": model}]})
    await post(
        client,
        "runs/log-batch",
        {
            "run_id": run_id,
            "metrics": [{"key": "acc", "value": 0.9, "timestamp": 3, "step": s} for s in range(5)],
            "params": [{"key": "lr", "value": "0.01"}],
        },
    )


async def answers(client: httpx.AsyncClient) -> dict[str, Any]:
    """What the read endpoints say about every experiment and run."""
    out: dict[str, Any] = {}
    exps = (
        await post(client, "experiments/search", {"max_results": 1000, "view_type": "ALL"})
    ).json()["experiments"]
    out["experiments"] = exps
    ids = [e["experiment_id"] for e in exps]
    for view in ("ACTIVE_ONLY", "ALL"):
        for filt, order in [
            ("", []),
            ("metrics.a > 0.5", ["metrics.b DESC"]),
            ("params.p = '1'", []),
            ("tags.t1 != 'x'", ["attributes.start_time ASC"]),
        ]:
            body = {
                "experiment_ids": ids,
                "filter": filt,
                "order_by": order,
                "run_view_type": view,
                "max_results": 1000,
            }
            found = (await post(client, "runs/search", body)).json()
            out[f"search {view} {filt!r} {order}"] = found
    runs = (
        await post(
            client,
            "runs/search",
            {"experiment_ids": ids, "run_view_type": "ALL", "max_results": 1000},
        )
    ).json()["runs"]
    for run in runs:
        run_id = run["info"]["run_id"]
        out[f"run {run_id}"] = (
            await client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
        ).json()
        for key in ("a", "b", "c", "acc"):
            out[f"history {run_id} {key}"] = (
                await client.get(
                    "/api/2.0/mlflow/metrics/get-history",
                    params={"run_id": run_id, "metric_key": key},
                )
            ).json()
    return out


async def make(uri: str) -> dict[str, Any]:
    backend = await open_backend(uri, clock=Clock())
    app = create_app(lambda: backend)  # type: ignore[arg-type, return-value]
    app.state.backend = backend
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://fixture") as client:
            await fill(client)
            return await answers(client)
    finally:
        await backend.close()


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "store.sqlite").unlink(missing_ok=True)
    sqlite_answers = await make(f"sqlite:///{out / 'store.sqlite'}")
    admin = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(f"{POSTGRES}/{DATABASE}")
    await conn.execute(f"CREATE SCHEMA {SCHEMA}")
    await conn.close()
    postgres_answers = await make(f"{POSTGRES}/{DATABASE}?search_path={SCHEMA}")
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", "--schema", SCHEMA, f"{POSTGRES}/{DATABASE}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (out / "postgres.sql").write_text(dump)
    for name, found in (("sqlite", sqlite_answers), ("postgres", postgres_answers)):
        (out / f"answers-{name}.json").write_text(json.dumps(found, indent=1, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
