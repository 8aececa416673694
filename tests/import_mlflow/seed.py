"""Fill an MLflow server through the real mlflow client (run as a script, with
MLFLOW_TRACKING_URI set): ``seed.py first`` logs the first round, ``seed.py more`` the
changes a second import must bring. Prints JSON: what the round logged, for the test to
check what an import brought.

Round one: experiments with tags, runs in the Default experiment, nested runs, histories
(NaN, infinity, steps out of order, explicit timestamps), params, tags, a dataset input,
artifacts in folders, a logged model with its files, a failed run, a deleted run, a
deleted experiment, and registered models (a stage, an alias, tags, a deleted version).
Round two: more points on a finished run, a new run, changed and deleted tags, a new param,
a new artifact, a run deleted, the deleted experiment restored, an experiment renamed and
tagged, a new model version, an alias moved, a version's description.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

T0 = 1_700_000_000_000


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[int], params=None) -> list[int]:  # type: ignore[no-untyped-def]
        return [2 * x for x in model_input]


def first() -> dict[str, object]:
    client = MlflowClient()
    work = Path(tempfile.mkdtemp())
    a = client.create_experiment("imp-a", tags={"team": "vision", "note": "first"})
    b = client.create_experiment("imp-b")
    ids: dict[str, str] = {}

    default_run = client.create_run("0", run_name="in-default", start_time=T0 + 1)
    client.log_param(default_run.info.run_id, "where", "default")
    client.set_terminated(default_run.info.run_id, end_time=T0 + 2)
    ids["in-default"] = default_run.info.run_id

    parent = client.create_run(a, run_name="parent", start_time=T0 + 10)
    ids["parent"] = parent.info.run_id
    with mlflow.start_run(run_id=parent.info.run_id):
        mlflow.log_params({"lr": "0.01", "layers": "3"})
        mlflow.set_tags({"stage": "dev", "owner": "alice"})
        client.log_batch(
            parent.info.run_id,
            metrics=[Metric("loss", 1.0 / (s + 1), T0 + 100 + s, s) for s in range(10)]
            + [Metric("acc", math.nan, T0 + 120, 0), Metric("acc", 0.5, T0 + 121, 1)]
            + [Metric("huge", math.inf, T0 + 130, 0), Metric("late", 3.0, T0 + 50, 7)]
            + [Metric("late", 4.0, T0 + 60, 2)],
        )
        frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
        mlflow.log_input(mlflow.data.from_pandas(frame, name="train"), context="training")
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2]}, "config/settings.json")
        (work / "empty.txt").write_bytes(b"")
        mlflow.log_artifact(str(work / "empty.txt"), "data")
    for i in (1, 2):
        child = client.create_run(
            a,
            run_name=f"child-{i}",
            start_time=T0 + 20 + i,
            tags={"mlflow.parentRunId": parent.info.run_id, "fold": str(i), "keep": "yes"},
        )
        ids[f"child-{i}"] = child.info.run_id
        client.log_param(child.info.run_id, "fold", str(i))
        for s in range(3):
            client.log_metric(child.info.run_id, "loss", 0.5 / (s + i), T0 + 200 + s, s)
        grandchild = client.create_run(
            a,
            run_name=f"grandchild-{i}",
            start_time=T0 + 30 + i,
            tags={"mlflow.parentRunId": child.info.run_id},
        )
        ids[f"grandchild-{i}"] = grandchild.info.run_id
        client.log_metric(grandchild.info.run_id, "depth", 2.0, T0 + 300)
        client.set_terminated(grandchild.info.run_id, end_time=T0 + 301)
        client.set_terminated(child.info.run_id, end_time=T0 + 302)
    client.set_terminated(parent.info.run_id, end_time=T0 + 303)

    trainer = client.create_run(a, run_name="trainer", start_time=T0 + 40)
    ids["trainer"] = trainer.info.run_id
    with mlflow.start_run(run_id=trainer.info.run_id):
        # Requirements given: inferring them loads the model in a subprocess of its own.
        model = mlflow.pyfunc.log_model(
            name="doubler",
            python_model=Doubler(),
            input_example=[1],
            pip_requirements=["cloudpickle"],
        )
        ids["model"] = model.model_id
        mlflow.log_metric("score", 0.9, timestamp=T0 + 400)

    # The registry: a model registered from the logged model, staged, aliased and tagged;
    # another from run files, whose first version is deleted.
    version = mlflow.register_model(f"models:/{ids['model']}", "doubler")
    client.transition_model_version_stage("doubler", version.version, "Staging")
    client.set_registered_model_alias("doubler", "champion", version.version)
    client.set_registered_model_tag("doubler", "team", "ml")
    client.set_model_version_tag("doubler", version.version, "validated", "yes")
    client.update_registered_model("doubler", description="doubles its input")
    client.create_registered_model("notes", tags={"kind": "text"})
    notes = f"{parent.info.artifact_uri}/notes"
    for _ in range(2):
        client.create_model_version("notes", notes, run_id=parent.info.run_id)
    client.delete_model_version("notes", "1")

    failed = client.create_run(a, run_name="failed", start_time=T0 + 50)
    client.log_metric(failed.info.run_id, "loss", 9.0, timestamp=T0 + 500)
    client.set_terminated(failed.info.run_id, status="FAILED", end_time=T0 + 501)
    ids["failed"] = failed.info.run_id

    gone = client.create_run(a, run_name="gone", start_time=T0 + 60)
    client.log_param(gone.info.run_id, "lr", "0.5")
    client.delete_run(gone.info.run_id)
    ids["gone"] = gone.info.run_id

    for i in range(2):
        run = client.create_run(b, run_name=f"b-{i}", start_time=T0 + 70 + i)
        client.log_metric(run.info.run_id, "loss", float(i), timestamp=T0 + 600 + i)
        ids[f"b-{i}"] = run.info.run_id
    client.delete_experiment(b)
    return {"ids": ids, "experiments": {"a": a, "b": b}}


def more(ids: dict[str, str], experiments: dict[str, str]) -> dict[str, object]:
    client = MlflowClient()
    client.log_batch(
        ids["parent"],
        metrics=[Metric("loss", 0.01 * s, T0 + 1000 + s, 10 + s) for s in range(5)]
        + [Metric("fresh", 1.0, T0 + 1010, 0)],
    )
    late = client.create_run(experiments["a"], run_name="late", start_time=T0 + 2000)
    client.log_batch(
        late.info.run_id,
        metrics=[Metric("loss", 1.0, T0 + 2001, 0), Metric("loss", 0.5, T0 + 2002, 1)],
        params=[Param("lr", "0.02")],
        tags=[RunTag("stage", "prod")],
    )
    client.set_terminated(late.info.run_id, end_time=T0 + 2003)
    client.set_tag(ids["child-1"], "keep", "no")
    client.delete_tag(ids["child-2"], "keep")
    client.log_param(ids["child-2"], "extra", "1")
    work = Path(tempfile.mkdtemp())
    (work / "second.txt").write_text("second round")
    client.log_artifact(ids["parent"], str(work / "second.txt"), "notes")
    client.delete_run(ids["failed"])
    client.restore_experiment(experiments["b"])
    client.rename_experiment(experiments["a"], "imp-a-renamed")
    second = mlflow.register_model(f"models:/{ids['model']}", "doubler")
    client.set_registered_model_alias("doubler", "champion", second.version)
    client.set_registered_model_tag("doubler", "team", "ml2")
    client.update_model_version("doubler", "1", description="the first")
    client.delete_registered_model_tag("notes", "kind")
    client.set_experiment_tag(experiments["a"], "note", "second")
    return {
        "late": late.info.run_id,
        # What the second import must bring: 6 + 2 points, 1 + 1 params.
        "points": 8,
        "params": 2,
        "files": 1,
    }


def main() -> None:
    if sys.argv[1] == "first":
        print(json.dumps(first()))
    else:
        state = json.loads(Path(sys.argv[2]).read_text())
        print(json.dumps(more(state["ids"], state["experiments"])))


if __name__ == "__main__":
    main()
