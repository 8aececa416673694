"""A randomized workload through the API: every kind of write, valid and rejected."""

from __future__ import annotations

import random

from tests.api.helpers import post


async def random_workload(client, seed: int, steps: int = 300) -> None:
    rng = random.Random(seed)
    experiments = ["0"]
    runs: list[str] = []
    for step in range(steps):
        action = rng.choice(
            [
                "experiment",
                "run",
                "run",
                "metrics",
                "metrics",
                "metrics",
                "params",
                "tags",
                "delete_tag",
                "update",
                "delete_run",
                "restore_run",
                "exp_tag",
                "rename",
                "delete_exp",
                "restore_exp",
                "inputs",
            ]
        )
        run_id = rng.choice(runs) if runs else "0" * 32
        exp_id = rng.choice(experiments)
        if action == "experiment":
            r = await post(
                client,
                "experiments/create",
                {"name": f"e{step}", "tags": [{"key": "k", "value": str(step)}]},
            )
            if r.status_code == 200:
                experiments.append(r.json()["experiment_id"])
        elif action == "run":
            tags = (
                [{"key": "mlflow.parentRunId", "value": run_id}]
                if runs and rng.random() < 0.3
                else []
            )
            r = await post(
                client,
                "runs/create",
                {"experiment_id": exp_id, "start_time": rng.randint(1, 50), "tags": tags},
            )
            if r.status_code == 200:
                runs.append(r.json()["run"]["info"]["run_id"])
        elif action == "metrics":
            metrics = [
                {
                    "key": rng.choice("abc"),
                    "value": rng.choice([rng.random(), "NaN", 0.0, "Infinity"]),
                    "timestamp": rng.randint(0, 5),
                    "step": rng.randint(0, 5),
                }
                for _ in range(rng.randint(1, 20))
            ]
            await post(client, "runs/log-batch", {"run_id": run_id, "metrics": metrics})
        elif action == "params":
            params = [{"key": rng.choice("pqr"), "value": rng.choice("12")}]
            await post(client, "runs/log-batch", {"run_id": run_id, "params": params})
        elif action == "tags":
            key = rng.choice(["t1", "t2", "mlflow.runName"])
            await post(client, "runs/set-tag", {"run_id": run_id, "key": key, "value": str(step)})
        elif action == "delete_tag":
            await post(
                client, "runs/delete-tag", {"run_id": run_id, "key": rng.choice(["t1", "t2"])}
            )
        elif action == "update":
            body = {
                "run_id": run_id,
                "status": rng.choice(["FINISHED", "FAILED", "RUNNING"]),
                "end_time": step,
            }
            if rng.random() < 0.3:
                body["run_name"] = f"name{step}"
            await post(client, "runs/update", body)
        elif action == "delete_run":
            await post(client, "runs/delete", {"run_id": run_id})
        elif action == "restore_run":
            await post(client, "runs/restore", {"run_id": run_id})
        elif action == "exp_tag":
            await post(
                client,
                "experiments/set-experiment-tag",
                {"experiment_id": exp_id, "key": "x", "value": str(step)},
            )
        elif action == "rename":
            await post(
                client, "experiments/update", {"experiment_id": exp_id, "new_name": f"r{step}"}
            )
        elif action == "delete_exp":
            await post(client, "experiments/delete", {"experiment_id": exp_id})
        elif action == "restore_exp":
            await post(client, "experiments/restore", {"experiment_id": exp_id})
        elif action == "inputs":
            dataset = {
                "dataset": {
                    "name": rng.choice(["d1", "d2"]),
                    "digest": "x",
                    "source_type": "s",
                    "source": "y",
                }
            }
            await post(client, "runs/log-inputs", {"run_id": run_id, "datasets": [dataset]})
