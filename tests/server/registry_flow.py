"""The model registry through the real mlflow client; prints what it read back as JSON.

Run by test_registry_client.py in its own process, with MLFLOW_TRACKING_URI (and a tracking
username, so the server's history names the actor) set.
"""

from __future__ import annotations

import json
import os
import time

import mlflow
import numpy as np
import requests
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

X = np.array([[0.0], [1.0], [2.0], [3.0]])
Y = np.array([0, 0, 1, 1])
PROBE = np.array([[0.4], [2.6]])


def pause() -> int:
    """A moment strictly between two writes (the server's clock is in milliseconds)."""
    time.sleep(0.05)
    moment = int(time.time() * 1000)
    time.sleep(0.05)
    return moment


def main() -> None:
    url = os.environ["MLFLOW_TRACKING_URI"]
    client = MlflowClient()
    mlflow.set_experiment("registry")
    models = []
    for flip in (False, True):
        with mlflow.start_run() as run:
            model = LogisticRegression().fit(X, 1 - Y if flip else Y)
            # Requirements given: inferring them loads the model in a subprocess of its own,
            # 8 s of the client's CPU that the server never sees.
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="iris",
                pip_requirements=["scikit-learn"],
            )
            models.append((run.info.run_id, info.model_id, model.predict(PROBE).tolist()))
    # register_model with a runs:/ URI of a logged model: a third version of the same files.
    third = mlflow.register_model(f"runs:/{models[0][0]}/model", "iris")

    client.set_registered_model_alias("iris", "champion", "1")
    champion_was_1 = pause()
    client.set_registered_model_alias("iris", "champion", "2")
    client.transition_model_version_stage("iris", "1", "Production")

    def predict(uri: str) -> list[int]:
        return mlflow.pyfunc.load_model(uri).predict(PROBE).tolist()

    copied = client.copy_model_version("models:/iris@champion", "iris-prod")
    base = f"{url}/api/2.0/trackledger"
    history = requests.get(f"{base}/registered-models/history", params={"name": "iris"}, timeout=30)
    then = requests.get(
        f"{base}/registered-models/alias",
        params={"name": "iris", "alias": "champion", "as_of": champion_was_1},
        timeout=30,
    )
    logged = client.get_logged_model(models[0][1])
    print(
        json.dumps(
            {
                "expected": [m[2] for m in models],
                "by_version": [predict("models:/iris/1"), predict("models:/iris/2")],
                "by_alias": predict("models:/iris@champion"),
                "by_stage": predict("models:/iris/Production"),
                "latest": predict("models:/iris/latest"),
                "copied": [copied.name, copied.version, predict("models:/iris-prod/1")],
                "third": [third.version, third.run_id, predict("models:/iris/3")],
                "runs": [m[0] for m in models],
                "versions": [
                    [v.version, v.run_id, v.current_stage, sorted(v.aliases)]
                    for v in sorted(
                        client.search_model_versions("name = 'iris'"), key=lambda v: int(v.version)
                    )
                ],
                "logged_model_versions": json.loads(logged.tags["mlflow.modelVersions"]),
                "history": [
                    [e["type"], e["actor"], e["data"].get("alias"), e["data"].get("version")]
                    for e in history.json()["events"]
                ],
                "champion_then": then.json()["model_version"]["version"],
                "champion_now": client.get_model_version_by_alias("iris", "champion").version,
            }
        )
    )


if __name__ == "__main__":
    main()
