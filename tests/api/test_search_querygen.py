"""Differential test: 300 generated searches (load-tests/querygen.py) over 300 seeded runs
(load-tests/querydata.py: histories, runs without some keys, NaN and infinite metrics,
numeric-looking params, deleted runs), on each backend. For every query MLflow accepts,
trackledger gives MLflow's answer in MLflow's order, page by page; the queries MLflow
refuses (trackledger's extensions) are still run and must answer 200 (never a 500). The
generator's claim of which queries MLflow accepts is checked too.

MLflow's answers come from MLflow 3.17.2's own SQL store (querygen_mlflow.py) and are kept
in querygen_answers.json: loading MLflow and searching it takes minutes on these machines.
``TRACKLEDGER_MLFLOW_LIVE=1`` makes them anew with the installed MLflow and checks that the
recording holds. A change to the data set, the generator or the cases makes the recording's
fingerprint stale: the test then says how to record it again.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.querygen_cases import (
    QUERIES,
    RUNS,
    SEED,
    dataset,
    fingerprint,
    page_size,
    queries,
)
from trackledger.services.backends import Backend

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

API = "/api/2.0/mlflow"
HERE = Path(__file__).parent
RECORDING = Path(os.environ.get("TRACKLEDGER_QUERYGEN_ANSWERS", HERE / "querygen_answers.json"))


@pytest.fixture(scope="module")
def mlflow_answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads(RECORDING.read_text())
    if os.environ.get("TRACKLEDGER_MLFLOW_LIVE") != "1":
        return recorded
    workdir = tmp_path_factory.mktemp("mlflow-querygen")
    done = subprocess.run(
        [sys.executable, str(HERE / "querygen_mlflow.py"), str(workdir)],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    live: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # A refusal's message holds run ids and Python sets (their order varies from run to
    # run): only the refusal itself is compared.
    stale = [
        n
        for n, (a, b) in enumerate(zip(live["answers"], recorded["answers"], strict=False))
        if a.get("pages", "refused") != b.get("pages", "refused")
    ]
    assert live["fingerprint"] != recorded["fingerprint"] or not stale, (
        f"MLflow {live['mlflow']} answers queries {stale[:20]} unlike the recording"
    )
    return live


def _value(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{API}{path}", json=body)
    assert response.status_code == 200, (path, response.text)
    answer: dict[str, Any] = response.json()
    return answer


async def _seed(client: httpx.AsyncClient) -> tuple[str, dict[int, str]]:
    """The data set through the API, as the MLflow script logs it into MLflow's store."""
    ds = dataset(RUNS)
    experiment_id = (await _post(client, "/experiments/create", {"name": "querygen"}))[
        "experiment_id"
    ]
    ids: dict[int, str] = {}
    for i in range(ds.runs):
        run = ds.run(i)
        created = await _post(
            client,
            "/runs/create",
            {
                "experiment_id": experiment_id,
                "run_name": run.name,
                "start_time": run.start_time,
                "user_id": run.user_id,
                "tags": [{"key": k, "value": v} for k, v in run.tags.items()],
            },
        )
        run_id = ids[i] = created["run"]["info"]["run_id"]
        metrics = [
            {"key": key, "value": _value(v), "timestamp": ts, "step": step}
            for key, points in run.metrics.items()
            for v, ts, step in points
        ]
        params = [{"key": k, "value": v} for k, v in run.params.items()]
        await _post(
            client, "/runs/log-batch", {"run_id": run_id, "metrics": metrics, "params": params}
        )
        if run.end_time is not None:
            update = {"run_id": run_id, "status": run.status, "end_time": run.end_time}
            await _post(client, "/runs/update", update)
        if run.deleted:
            await _post(client, "/runs/delete", {"run_id": run_id})
    return experiment_id, ids


async def _search(
    client: httpx.AsyncClient, experiment_id: str, query: Any, filter_: str, size: int
) -> tuple[int, list[list[int]], str]:
    """(status, the pages as run indexes, the last answer's text)."""
    body: dict[str, Any] = {
        "experiment_ids": [experiment_id],
        "filter": filter_,
        "order_by": list(query.order_by),
        "run_view_type": query.view,
        "max_results": size,
    }
    pages: list[list[int]] = []
    for _ in range(RUNS + 1):
        try:
            response = await client.post(f"{API}/runs/search", json=body)
        except Exception as exc:  # the in-process app raises what a server answers with a 500
            return 500, pages, repr(exc)
        if response.status_code != 200:
            return response.status_code, pages, response.text[:300]
        data = response.json()
        names = [r["info"]["run_name"] for r in data.get("runs", [])]
        pages.append([int(name.removeprefix("run-")) for name in names])
        if "next_page_token" not in data:
            return 200, pages, ""
        body["page_token"] = data["next_page_token"]
    return 200, pages, "more pages than runs"


def _shown(query: Any, filter_: str, size: int) -> str:
    return (
        f"filter {filter_!r} order_by {list(query.order_by)} view {query.view} "
        f"page size {size} (shape {query.shape})"
    )


async def test_generated_searches_match_mlflow(
    backend: Backend, client: httpx.AsyncClient, mlflow_answers: dict[str, Any]
) -> None:
    cases = queries(RUNS, QUERIES, SEED)
    assert mlflow_answers["fingerprint"] == fingerprint(cases), (
        "the data set or the queries changed: record MLflow's answers again with "
        "`python tests/api/querygen_mlflow.py $(mktemp -d) > tests/api/querygen_answers.json`"
    )
    started = time.perf_counter()
    experiment_id, ids = await _seed(client)
    # What a server does within 30 s (services/statistics.py): without statistics,
    # PostgreSQL plans the searches of these 300 runs as if the tables were empty (nested
    # loops reading a metric's rows again for each run: its statements took 7.7 s, not 4.2).
    await backend.refresh_statistics()
    seeded = time.perf_counter()
    findings: list[str] = []
    compared = extensions = 0
    for n, (query, expected) in enumerate(zip(cases, mlflow_answers["answers"], strict=True)):
        filter_ = query.resolve(ids.__getitem__)
        size = page_size(n)
        status, pages, text = await _search(client, experiment_id, query, filter_, size)
        shown = _shown(query, filter_, size)
        if "refused" in expected:
            extensions += 1
            if query.mlflow:
                findings.append(
                    f"#{n}: the generator says MLflow accepts, MLflow refused "
                    f"({expected['refused'][:120]}): {shown}"
                )
            if status != 200:  # every generated query is valid in trackledger's language
                findings.append(f"#{n}: {status} from trackledger: {shown}: {text}")
            continue
        compared += 1
        if not query.mlflow:
            findings.append(f"#{n}: the generator says MLflow refuses, MLflow answered: {shown}")
        if status != 200:
            findings.append(f"#{n}: {status} from trackledger, MLflow answered: {shown}: {text}")
        elif pages != expected["pages"]:
            findings.append(
                f"#{n}: {shown}\n    MLflow:      {expected['pages']}\n    trackledger: {pages}"
            )
    print(
        f"\n{RUNS} runs seeded in {seeded - started:.1f} s; {compared} queries compared with "
        f"MLflow and {extensions} extensions run in {time.perf_counter() - seeded:.1f} s"
    )
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(findings)
