"""A randomized workload through the API: every kind of write, valid and rejected."""

from __future__ import annotations

import random

from tests.api.helpers import API, post
from tests.api.trace_helpers import API3, send_spans, span, start_trace, trace_id

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
    assessments: list[tuple[str, str]] = []
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
                "spans",
                "spans",
                "trace_info",
                "trace_tag",
                "trace_untag",
                "assessment",
                "assessment_change",
                "trace_delete",
                "trace_restore",
                "trace_link",
                "trace_prompts",
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
        elif action in TRACE_ACTIONS:
            await TRACE_ACTIONS[action](client, rng, step, exp_id, run_id, assessments)
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


# -- traces: a handful of trace ids written in every order, so their merges meet ----------


def _trace(rng: random.Random) -> int:
    return rng.randint(1, 6)


async def _spans(client, rng, step, exp_id, run_id, assessments) -> None:
    n = _trace(rng)
    spans = [
        span(
            n,
            rng.randint(1, 4),
            None if i == 0 and rng.random() < 0.5 else rng.randint(1, 4),
            name=f"s{step}",
            start_ms=rng.randint(0, 50),
            end_ms=rng.choice([None, rng.randint(50, 90)]),
            status=rng.randint(0, 2),
            attributes={"mlflow.spanInputs": {"step": step}, "k": rng.random()},
        )
        for i in range(rng.randint(1, 3))
    ]
    headers = {"x-mlflow-run-id": run_id} if rng.random() < 0.3 else {}
    await send_spans(client, exp_id, spans, {"service.name": f"svc{step % 3}"}, **headers)


async def _info(client, rng, step, exp_id, run_id, assessments) -> None:
    await start_trace(
        client,
        trace_id(_trace(rng)),
        exp_id,
        request_time=1_700_000_000_000 + rng.randint(0, 100),
        duration_ms=rng.choice([None, rng.randint(1, 100)]),
        state=rng.choice(["OK", "ERROR", "IN_PROGRESS", "STATE_UNSPECIFIED"]),
        tags={"t": str(step), "mlflow.traceName": f"n{step}"},
        metadata={"m": str(step), "mlflow.sourceRun": run_id},
    )


async def _tag(client, rng, step, exp_id, run_id, assessments) -> None:
    await client.patch(
        f"{API3}/traces/{trace_id(_trace(rng))}/tags",
        json={"key": rng.choice(["t", "u"]), "value": str(step)},
    )


async def _untag(client, rng, step, exp_id, run_id, assessments) -> None:
    await client.request(
        "DELETE", f"{API3}/traces/{trace_id(_trace(rng))}/tags", json={"key": rng.choice("tu")}
    )


async def _assessment(client, rng, step, exp_id, run_id, assessments) -> None:
    trace = trace_id(_trace(rng))
    body = {
        "assessment_name": rng.choice(["q", "r"]),
        "feedback": {"value": rng.choice([1, "yes", 0.5])},
        "source": {"source_type": "HUMAN", "source_id": "w"},
    }
    mine = [a for t, a in assessments if t == trace]
    if mine and rng.random() < 0.4:
        body["overrides"] = rng.choice(mine)
    r = await client.post(f"{API3}/traces/{trace}/assessments", json={"assessment": body})
    if r.status_code == 200:
        assessments.append((trace, r.json()["assessment"]["assessment_id"]))


async def _assessment_change(client, rng, step, exp_id, run_id, assessments) -> None:
    if not assessments:
        return
    trace, aid = rng.choice(assessments)
    url = f"{API3}/traces/{trace}/assessments/{aid}"
    if rng.random() < 0.5:
        await client.delete(url)
        return
    update = {"rationale": f"r{step}", "metadata": {"s": str(step)}, "feedback": {"value": step}}
    await client.patch(
        url, json={"assessment": update, "update_mask": "rationale,metadata,feedback"}
    )


async def _delete(client, rng, step, exp_id, run_id, assessments) -> None:
    await client.post(
        f"{API3}/traces/delete-traces",
        json={"experiment_id": exp_id, "request_ids": [trace_id(_trace(rng))]},
    )


async def _restore(client, rng, step, exp_id, run_id, assessments) -> None:
    await client.post(
        "/api/2.0/trackledger/traces/restore", json={"trace_ids": [trace_id(_trace(rng))]}
    )


async def _link(client, rng, step, exp_id, run_id, assessments) -> None:
    await post(
        client, "traces/link-to-run", {"trace_ids": [trace_id(_trace(rng))], "run_id": run_id}
    )


async def _prompts(client, rng, step, exp_id, run_id, assessments) -> None:
    versions = [{"name": rng.choice("pq"), "version": str(rng.randint(1, 3))}]
    await post(
        client,
        "traces/link-prompts",
        {"trace_id": trace_id(_trace(rng)), "prompt_versions": versions},
    )


TRACE_ACTIONS = {
    "spans": _spans,
    "trace_info": _info,
    "trace_tag": _tag,
    "trace_untag": _untag,
    "assessment": _assessment,
    "assessment_change": _assessment_change,
    "trace_delete": _delete,
    "trace_restore": _restore,
    "trace_link": _link,
    "trace_prompts": _prompts,
}
