"""A randomized workload through the API: every kind of write, valid and rejected."""

from __future__ import annotations

import random

from tests.api.helpers import API, post

_REGISTRY_ACTIONS = [
    "rm_create",
    "rm_rename",
    "rm_update",
    "rm_tag",
    "rm_untag",
    "rm_delete",
    "mv_create",
    "mv_create",
    "mv_update",
    "mv_stage",
    "mv_delete",
    "mv_tag",
    "alias",
    "alias",
    "unalias",
]


async def _registry_prelude(client) -> list[str]:
    """Every kind of registry event once, so that each replay sees them all."""
    calls = [
        ("POST", "registered-models/create", {"name": "p", "tags": [{"key": "x", "value": "1"}]}),
        ("POST", "registered-models/set-tag", {"name": "p", "key": "y", "value": "2"}),
        ("DELETE", "registered-models/delete-tag", {"name": "p", "key": "x"}),
        ("PATCH", "registered-models/update", {"name": "p", "description": "d"}),
        ("POST", "model-versions/create", {"name": "p", "source": "s3://b/m"}),
        ("POST", "model-versions/create", {"name": "p", "source": "s3://b/m"}),
        ("POST", "model-versions/create", {"name": "p", "source": "s3://b/m"}),
        ("PATCH", "model-versions/update", {"name": "p", "version": "1", "description": "v"}),
        (
            "POST",
            "model-versions/transition-stage",
            {"name": "p", "version": "1", "stage": "Production"},
        ),
        (
            "POST",
            "model-versions/transition-stage",
            {"name": "p", "version": "2", "stage": "Production", "archive_existing_versions": True},
        ),
        ("POST", "model-versions/set-tag", {"name": "p", "version": "2", "key": "t", "value": "1"}),
        ("DELETE", "model-versions/delete-tag", {"name": "p", "version": "2", "key": "t"}),
        ("POST", "registered-models/alias", {"name": "p", "alias": "a", "version": "1"}),
        ("POST", "registered-models/alias", {"name": "p", "alias": "a", "version": "3"}),
        ("POST", "registered-models/alias", {"name": "p", "alias": "b", "version": "3"}),
        ("DELETE", "registered-models/alias", {"name": "p", "alias": "b"}),
        ("DELETE", "model-versions/delete", {"name": "p", "version": "3"}),
        ("POST", "registered-models/rename", {"name": "p", "new_name": "q"}),
        ("POST", "registered-models/create", {"name": "gone"}),
        ("DELETE", "registered-models/delete", {"name": "gone"}),
    ]
    for method, path, body in calls:
        response = await client.request(method, f"{API}/{path}", json=body)
        assert response.status_code == 200, response.text
    return ["q"]


async def _registry_step(client, rng: random.Random, action: str, step: int, models: list[str]):
    """One registry write, valid or not (unknown names, deleted versions, bad stages)."""
    name = rng.choice(models) if models else "none"
    version = str(rng.randint(1, 3))

    async def send(method: str, path: str, body: dict) -> int:
        response = await client.request(method, f"{API}/{path}", json=body)
        return response.status_code

    if action == "rm_create":
        new = f"m{step}"
        tags = [{"key": "k", "value": str(step)}]
        if await send("POST", "registered-models/create", {"name": new, "tags": tags}) == 200:
            models.append(new)
    elif action == "rm_rename":
        new = f"r{step}"
        if await send("POST", "registered-models/rename", {"name": name, "new_name": new}) == 200:
            models[models.index(name)] = new
    elif action == "rm_update":
        await send("PATCH", "registered-models/update", {"name": name, "description": str(step)})
    elif action == "rm_tag":
        body = {"name": name, "key": rng.choice("xy"), "value": str(step)}
        await send("POST", "registered-models/set-tag", body)
    elif action == "rm_untag":
        await send(
            "DELETE", "registered-models/delete-tag", {"name": name, "key": rng.choice("xy")}
        )
    elif action == "rm_delete" and rng.random() < 0.3:
        if await send("DELETE", "registered-models/delete", {"name": name}) == 200:
            models.remove(name)
    elif action == "mv_create":
        tags = [{"key": "t", "value": str(step)}] if rng.random() < 0.5 else []
        await send(
            "POST", "model-versions/create", {"name": name, "source": "s3://b/m", "tags": tags}
        )
    elif action == "mv_update":
        body = {"name": name, "version": version, "description": str(step)}
        await send("PATCH", "model-versions/update", body)
    elif action == "mv_stage":
        body = {
            "name": name,
            "version": version,
            "stage": rng.choice(["Staging", "Production", "Production", "Archived", "bad"]),
            "archive_existing_versions": rng.random() < 0.3,
        }
        await send("POST", "model-versions/transition-stage", body)
    elif action == "mv_delete" and rng.random() < 0.5:
        await send("DELETE", "model-versions/delete", {"name": name, "version": version})
    elif action == "mv_tag":
        body = {"name": name, "version": version, "key": "t", "value": str(step)}
        await send("POST", "model-versions/set-tag", body)
    elif action == "alias":
        body = {"name": name, "alias": rng.choice(["champion", "challenger"]), "version": version}
        await send("POST", "registered-models/alias", body)
    elif action == "unalias":
        body = {"name": name, "alias": rng.choice(["champion", "challenger"])}
        await send("DELETE", "registered-models/alias", body)


async def random_workload(client, seed: int, steps: int = 300, registry: bool = True) -> None:
    rng = random.Random(seed)
    experiments = ["0"]
    runs: list[str] = []
    models: list[str] = await _registry_prelude(client) if registry else []
    for step in range(steps):
        if registry and rng.random() < 0.4:
            await _registry_step(client, rng, rng.choice(_REGISTRY_ACTIONS), step, models)
            continue
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
