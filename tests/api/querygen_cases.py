"""The differential search test's cases, shared by the test and its MLflow script: the
load tests' data set and query generator (load-tests/querydata.py and querygen.py, standard
library only) with the test's sizes."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

LOAD_TESTS = Path(__file__).resolve().parents[2] / "load-tests"
if str(LOAD_TESTS) not in sys.path:
    sys.path.insert(0, str(LOAD_TESTS))

querydata: Any = importlib.import_module("querydata")
querygen: Any = importlib.import_module("querygen")

#: The data set's runs, the queries generated over it, and the generator's seed. Another
#: seed or count (TRACKLEDGER_QUERYGEN_SEED, _QUERIES) needs its own recording of MLflow's
#: answers (TRACKLEDGER_QUERYGEN_ANSWERS names its file): a way to look for more differences.
RUNS = 300
QUERIES = int(os.environ.get("TRACKLEDGER_QUERYGEN_QUERIES", "300"))
SEED = int(os.environ.get("TRACKLEDGER_QUERYGEN_SEED", "5"))

#: Page sizes the queries cycle through: a few runs, more, and all in one page.
PAGE_SIZES = (20, 50, 1000, 30)


def dataset(runs: int) -> Any:
    """``runs`` runs, histories of 4 steps, every 23rd run deleted."""
    return querydata.Dataset(runs, steps=4, seed=7, deleted_every=23)


def queries(runs: int, count: int, seed: int) -> list[Any]:
    """Half drawn from MLflow's subset; no order by run id (ids differ between servers);
    every run view."""
    return list(
        querygen.generate(
            dataset(runs),
            count,
            seed,
            mlflow_share=0.5,
            order_by_run_id=False,
            views=("ACTIVE_ONLY", "ACTIVE_ONLY", "ACTIVE_ONLY", "ALL", "DELETED_ONLY"),
        )
    )


def page_size(n: int) -> int:
    return PAGE_SIZES[n % len(PAGE_SIZES)]


def fingerprint(cases: list[Any]) -> str:
    """A digest of the runs and the queries: a recording of answers holds for these only."""
    ds = dataset(RUNS)
    digest = hashlib.sha256()
    for i in range(ds.runs):
        run = ds.run(i)
        digest.update(repr((run.name, run.start_time, run.end_time, run.status)).encode())
        digest.update(repr((run.user_id, run.params, run.tags, run.metrics, run.deleted)).encode())
    for n, q in enumerate(cases):
        row = [q.filter, list(q.order_by), q.view, page_size(n), q.mlflow]
        digest.update(json.dumps(row).encode())
    return digest.hexdigest()[:16]
