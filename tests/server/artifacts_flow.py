"""Artifacts and a model through the real mlflow client; prints what it read back as JSON.

Run by test_artifacts_client.py in its own process, with MLFLOW_TRACKING_URI set.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression


def main() -> None:
    work = Path(tempfile.mkdtemp())
    (work / "data" / "nested").mkdir(parents=True)
    (work / "data" / "a.txt").write_text("alpha")
    (work / "data" / "nested" / "b.json").write_text('{"b": 2}')
    (work / "single.csv").write_text("x,y\n1,2\n")
    mlflow.set_experiment("artifacts")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(work / "single.csv"))
        mlflow.log_artifacts(str(work / "data"), artifact_path="data")
        mlflow.log_dict({"k": [1, 2]}, "config/settings.json")
        mlflow.log_text("some notes", "notes/readme.txt")
        figure, axis = plt.subplots()
        axis.plot([1, 2, 3], [3, 1, 2])
        mlflow.log_figure(figure, "plots/line.png")
        mlflow.log_image(np.zeros((8, 8, 3), dtype=np.uint8), "images/black.png")
        x = np.array([[0.0], [1.0], [2.0], [3.0]])
        y = np.array([0, 0, 1, 1])
        model = LogisticRegression().fit(x, y)
        # Requirements given: inferring them loads the model in a subprocess of its own, 8 s
        # of the client's CPU that the server never sees.
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        if len(sys.argv) > 1:  # a large file, to watch the server's memory
            mlflow.log_artifact(sys.argv[1], artifact_path="big")
    client = MlflowClient()
    top = sorted(f.path for f in client.list_artifacts(run.info.run_id))
    nested = sorted(f.path for f in client.list_artifacts(run.info.run_id, "data"))
    out = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="data", dst_path=str(work / "down")
        )
    )
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    big = None
    if len(sys.argv) > 1:
        big = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path=f"big/{Path(sys.argv[1]).name}",
            dst_path=str(work / "big"),
        )
    print(
        json.dumps(
            {
                "run_id": run.info.run_id,
                "top": top,
                "nested": nested,
                "downloaded": sorted(
                    str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
                ),
                "a": (out / "a.txt").read_text(),
                "settings": mlflow.artifacts.load_dict(
                    f"runs:/{run.info.run_id}/config/settings.json"
                ),
                "predictions": loaded.predict(np.array([[0.5], [2.5]])).tolist(),
                "expected": model.predict(np.array([[0.5], [2.5]])).tolist(),
                "big": big,
            }
        )
    )


if __name__ == "__main__":
    main()
