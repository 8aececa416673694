"""MLflow's answers to generated searches (run as a script, in a process of its own):

    python tests/api/querygen_mlflow.py WORKDIR > tests/api/querygen_answers.json

Loads the test's data set (querygen_cases.py) into MLflow's own SQL store (a new SQLite
file in WORKDIR, through the store's create_run / log_batch / update_run_info / delete_run,
as its server does), then runs every generated query through the store's ``search_runs``,
page by page. Prints one JSON object: MLflow's version, the cases' fingerprint, and for each
query ``{"pages": [[run indexes], ...]}`` or ``{"refused": message}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import mlflow
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from tests.api.querygen_cases import (
    QUERIES,
    RUNS,
    SEED,
    dataset,
    fingerprint,
    page_size,
    queries,
)

VIEWS = {
    "ACTIVE_ONLY": ViewType.ACTIVE_ONLY,
    "ALL": ViewType.ALL,
    "DELETED_ONLY": ViewType.DELETED_ONLY,
}


def seed(store: SqlAlchemyStore, runs: int) -> tuple[str, dict[int, str]]:
    ds = dataset(runs)
    experiment_id = store.create_experiment("querygen")
    ids: dict[int, str] = {}
    for i in range(ds.runs):
        run = ds.run(i)
        created = store.create_run(
            experiment_id=experiment_id,
            user_id=run.user_id,
            start_time=run.start_time,
            tags=[RunTag(k, v) for k, v in run.tags.items()],
            run_name=run.name,
        )
        run_id = created.info.run_id
        ids[i] = run_id
        store.log_batch(
            run_id,
            metrics=[
                Metric(key, value, ts, step)
                for key, points in run.metrics.items()
                for value, ts, step in points
            ],
            params=[Param(k, v) for k, v in run.params.items()],
            tags=[],
        )
        if run.end_time is not None:
            store.update_run_info(run_id, RunStatus.from_string(run.status), run.end_time, run.name)
        if run.deleted:
            store.delete_run(run_id)
    return experiment_id, ids


def main() -> None:
    workdir = Path(sys.argv[1])
    runs, count, generator_seed = RUNS, QUERIES, SEED
    started = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{workdir / 'mlflow.db'}", str(workdir / "mlartifacts"))
    made = time.perf_counter()
    experiment_id, ids = seed(store, runs)
    seeded = time.perf_counter()
    answers = []
    cases = queries(runs, count, generator_seed)
    for n, q in enumerate(cases):
        pages: list[list[str]] = []
        token = None
        try:
            while True:
                found = store.search_runs(
                    [experiment_id],
                    q.resolve(ids.__getitem__),
                    VIEWS[q.view],
                    page_size(n),
                    list(q.order_by),
                    token,
                )
                pages.append([int(r.info.run_name.removeprefix("run-")) for r in found])
                token = found.token
                if not token:
                    break
        except MlflowException as exc:
            answers.append({"refused": exc.message[:300]})
            continue
        answers.append({"pages": pages})
    print(
        f"MLflow: store {made - started:.1f} s, {runs} runs {seeded - made:.1f} s, "
        f"{count} searches {time.perf_counter() - seeded:.1f} s",
        file=sys.stderr,
    )
    recording = {
        "mlflow": mlflow.__version__,
        "fingerprint": fingerprint(cases),
        "answers": answers,
    }
    print(json.dumps(recording, separators=(",", ":")))


if __name__ == "__main__":
    main()
