"""Make a small MLflow SQLite database through the mlflow client (run as a script:
``make_db.py PATH``; its artifacts go to ``mlruns`` beside it). Prints the run ids as JSON.

Experiment 1 "e1" (tagged) holds "r1" (finished: params, a history with a NaN, a tag, an
artifact), its child "r3", and "r2" (deleted); experiment 2 "e2" is deleted with its run
"r4". The registered model "reg" has r1's files as version 1, aliased "best". Run times are
fixed, so tests can check them.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

T0 = 1_690_000_000_000


def main() -> None:
    path = Path(sys.argv[1]).resolve()
    client = MlflowClient(f"sqlite:///{path}")
    e1 = client.create_experiment("e1", artifact_location=str(path.parent / "mlruns" / "1"))
    client.set_experiment_tag(e1, "team", "a")
    e2 = client.create_experiment("e2", artifact_location=str(path.parent / "mlruns" / "2"))
    r1 = client.create_run(e1, run_name="r1", start_time=T0, tags={"t": "1"})
    client.log_batch(
        r1.info.run_id,
        metrics=[Metric("loss", 1.0 / (s + 1), T0 + 10 + s, s) for s in range(3)]
        + [Metric("acc", math.nan, T0 + 20, 0)],
        params=[Param("lr", "0.1")],
        tags=[RunTag("u", "x")],
    )
    notes = Path(tempfile.mkdtemp()) / "notes.txt"
    notes.write_text("first")
    client.log_artifact(r1.info.run_id, str(notes), "docs")
    client.set_terminated(r1.info.run_id, end_time=T0 + 100)
    client.create_registered_model("reg", tags={"k": "1"})
    client.create_model_version("reg", f"{r1.info.artifact_uri}/docs", run_id=r1.info.run_id)
    client.set_registered_model_alias("reg", "best", "1")
    r2 = client.create_run(e1, run_name="r2", start_time=T0 + 1)
    client.log_metric(r2.info.run_id, "loss", 5.0, T0 + 30, 0)
    client.delete_run(r2.info.run_id)
    r3 = client.create_run(
        e1, run_name="r3", start_time=T0 + 2, tags={"mlflow.parentRunId": r1.info.run_id}
    )
    r4 = client.create_run(e2, run_name="r4", start_time=T0 + 3)
    client.delete_experiment(e2)
    ids = {"r1": r1.info.run_id, "r2": r2.info.run_id, "r3": r3.info.run_id}
    print(json.dumps({**ids, "r4": r4.info.run_id}))


if __name__ == "__main__":
    main()
