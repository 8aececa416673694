"""A workload through the API whose log holds every event type.

``every_event_workload`` drives each kind of write at least once, an import from MLflow
included (``missing_types`` says which event types a log lacks, so a new event type fails
the tests that use it until the workload writes it). ``every_answer.read_answers`` asks
every read endpoint about everything it made.
"""

from __future__ import annotations

import typing
from typing import Any

import httpx

from tests.api.helpers import new_experiment, new_run, ok, post
from tests.api.trace_helpers import API3, otlp_body, span, start_trace, trace_id
from tests.conftest import Clock
from trackledger.eventlog.events import AnyEvent, ModelOutput
from trackledger.services.backends import Backend
from trackledger.services.mlflow_plan import (
    Import,
    experiment_events,
    map_experiments,
    model_events,
)
from trackledger.services.mlflow_registry import UriMap, plan_registry
from trackledger.services.mlflow_runs import RunWork, new_run_events
from trackledger.services.mlflow_source import (
    SourceExperiment,
    SourceModel,
    SourceRegisteredModel,
    SourceRun,
    SourceVersion,
)
from trackledger.services.mlflow_target import Target

API = "/api/2.0/mlflow"
TL = "/api/2.0/trackledger"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
DAY_MS = 86_400_000
METRIC_KEYS = ("loss", "acc", "single")


class Made(typing.NamedTuple):
    """Ids of what the workload made (purged ones included)."""

    experiments: list[str]
    runs: list[str]
    models: list[str]
    traces: list[str] = []


def all_event_types() -> set[str]:
    return {cls.__struct_config__.tag for cls in typing.get_args(AnyEvent)}


async def missing_types(backend: Backend) -> set[str]:
    present = {s.type for s in await backend.store.read_all(limit=10**6)}
    return all_event_types() - present


async def _model(client: httpx.AsyncClient, exp_id: str, run_id: str, name: str) -> str:
    body = {
        "experiment_id": exp_id,
        "name": name,
        "source_run_id": run_id,
        "model_type": "sklearn",
        "params": [{"key": "alpha", "value": "0.5"}],
        "tags": [{"key": "t", "value": "1"}],
    }
    created = await ok(await client.post(f"{API}/logged-models", json=body))
    model_id: str = created["model"]["info"]["model_id"]
    return model_id


async def _auth_events(backend: Backend, exp: str) -> None:
    """Users, tokens, roles and grants: on the store (the API refuses them without auth)."""
    from trackledger.eventlog import auth_commands as a
    from trackledger.eventlog.results import AuthRef

    commands: list[Any] = [
        a.CreateUser(username="ann", password_hash="scrypt$h1"),
        a.CreateUser(username="ben", password_hash="scrypt$h2"),
        a.ChangePassword(username="ann", password_hash="scrypt$h3"),
        a.SetAdmin(username="ann", is_admin=True),
        a.CreateToken(username="ann", token_id="00aa", name="ci", token_hash="t1", kind="access"),
        a.RevokeToken(username="ann", token_id="00aa"),
        a.GrantPermission(
            username="ben", resource_type="experiment", resource_id=exp, permission="EDIT"
        ),
        a.GrantPermission(
            username="ann", resource_type="experiment", resource_id=exp, permission="READ"
        ),
        a.RevokePermission(username="ann", resource_type="experiment", resource_id=exp),
        a.DeleteUser(username="ben"),
    ]
    for command in commands:
        await backend.store.execute(command, actor="workload")
    role = await backend.store.execute(a.CreateRole(name="team", workspace="default"))
    assert isinstance(role, AuthRef)
    await backend.store.execute(a.UpdateRole(role_id=role.id, description="all of us"))
    added = await backend.store.execute(
        a.AddRolePermission(
            role_id=role.id, resource_type="experiment", resource_pattern="*", permission="READ"
        )
    )
    assert isinstance(added, AuthRef)
    change = a.ChangeRolePermission(role_permission_id=added.id, permission="EDIT")
    await backend.store.execute(change)
    await backend.store.execute(a.AssignRole(username="ann", role_id=role.id))
    await backend.store.execute(a.UnassignRole(username="ann", role_id=role.id))
    await backend.store.execute(a.RemoveRolePermission(role_permission_id=added.id))
    await backend.store.execute(a.DeleteRole(role_id=role.id))


async def _from_mlflow(backend: Backend, clock: Clock) -> Made:
    """An experiment, a run and a logged model as ``import-mlflow`` brings them (its
    planner and the store's bulk append; the source's data written out here)."""
    imp = Import("sqlite:///mlflow.db", clock(), "importer", copy_artifacts=False)
    source = SourceExperiment(
        experiment_id="1",
        name="from-mlflow",
        artifact_location="file:///mlruns/1",
        lifecycle_stage="active",
        creation_time=1_000,
        last_update_time=9_000,
        tags={"origin": "mlflow"},
    )
    target = Target(backend)
    (plan,) = map_experiments(
        [source],
        await target.experiments(),
        await target.taken_experiment_ids(),
        imp.source,
        renumber=True,
    )
    assert plan.target_id is not None
    run = SourceRun(
        run_id="0123456789abcdef0123456789abcdef",
        experiment_id="1",
        name="imported",
        user_id="alice",
        status="FINISHED",
        start_time=2_000,
        end_time=3_000,
        lifecycle_stage="active",
        deleted_time=None,
        artifact_uri="file:///mlruns/1/0123456789abcdef0123456789abcdef/artifacts",
        tags={"mlflow.runName": "imported", "team": "x"},
        params={"lr": "0.1"},
        datasets=[],
        model_inputs=[],
        outputs=[ModelOutput("m-0123456789abcdef0123456789abcdef", 1)],
        latest={"loss": (1, 2_500, 0.5)},
    )
    work = RunWork(run, plan.target_id, run.artifact_uri)
    work.points = [
        ("loss", 0.9, 2_400, 0, 0),
        ("loss", 0.0, 2_450, 0, 1),
        ("loss", 0.5, 2_500, 1, 0),
    ]
    model = SourceModel(
        model_id="m-0123456789abcdef0123456789abcdef",
        experiment_id="1",
        name="imported-model",
        artifact_location="file:///mlruns/1/models/m-0123456789abcdef0123456789abcdef",
        creation_time=2_900,
        last_updated_time=3_100,
        status="LOGGED_MODEL_READY",
        lifecycle_stage="active",
        model_type="sklearn",
        source_run_id=run.run_id,
        tags={"mlflow.user": "alice"},
        params={"alpha": "1"},
    )
    registered = SourceRegisteredModel(
        name="imported-registered",
        creation_time=3_200,
        last_updated_time=3_900,
        description="from MLflow",
        tags={"owner": "alice"},
        aliases={"champion": 1},
        versions=[
            SourceVersion(
                version=1,
                creation_time=3_300,
                last_updated_time=3_800,
                description="first",
                user_id=None,
                stage="Staging",
                source=f"models:/{model.model_id}",
                storage_location=model.artifact_location,
                run_id=run.run_id,
                run_link=None,
                tags={"k": "v"},
            )
        ],
    )
    registry = plan_registry([registered], await target.registry(), imp, UriMap())
    events = [
        *experiment_events(plan, imp),
        *new_run_events(work, {}, imp),
        *model_events(model, plan.target_id, None, model.artifact_location, imp),
        *registry.events,
    ]
    await backend.store.append_imported(events, new_streams=sorted({s.stream_id for s in events}))
    return Made([plan.target_id], [run.run_id], [model.model_id])


async def every_event_workload(client: httpx.AsyncClient, clock: Clock, backend: Backend) -> Made:
    exp = await new_experiment(client, "alpha")
    await ok(await post(client, "experiments/update", {"experiment_id": exp, "new_name": "beta"}))
    tag = {"experiment_id": exp, "key": "team", "value": "vision"}
    await ok(await post(client, "experiments/set-experiment-tag", tag))
    await ok(await post(client, "experiments/set-experiment-tag", {**tag, "key": "gone"}))
    gone = {"experiment_id": exp, "key": "gone"}
    await ok(await post(client, "experiments/delete-experiment-tag", gone))
    back = await new_experiment(client, "comes-back")
    await ok(await post(client, "experiments/delete", {"experiment_id": back}))
    await ok(await post(client, "experiments/restore", {"experiment_id": back}))
    doomed_exp = await new_experiment(client, "doomed")

    parent = await new_run(client, exp, run_name="parent", tags=[{"key": "k", "value": "v"}])
    child = await new_run(
        client, exp, run_name="child", tags=[{"key": "mlflow.parentRunId", "value": parent}]
    )
    other = await new_run(client, back, run_name="other")
    doomed = await new_run(client, exp, run_name="doomed")
    doomed_child = await new_run(client, doomed_exp, run_name="in-doomed")
    runs = [parent, child, other, doomed, doomed_child]

    await ok(
        await post(client, "runs/log-parameter", {"run_id": parent, "key": "lr", "value": "1"})
    )
    single = {"run_id": parent, "key": "single", "value": 0.5, "timestamp": 5, "step": 1}
    await ok(await post(client, "runs/log-metric", single))
    for run_id in (parent, child, other, doomed):
        batch = {
            "run_id": run_id,
            "metrics": [
                {"key": key, "value": value, "timestamp": ts, "step": step}
                for key in ("loss", "acc")
                for step, ts, value in ((0, 1, 0.9), (1, 2, "NaN"), (2, 3, 0.1), (2, 3, 0.3))
            ],
            "params": [{"key": "p", "value": run_id[:4]}],
            "tags": [{"key": "mlflow.runName", "value": f"renamed-{run_id[:4]}"}],
        }
        await ok(await post(client, "runs/log-batch", batch))
    await ok(await post(client, "runs/set-tag", {"run_id": parent, "key": "stage", "value": "a"}))
    await ok(await post(client, "runs/set-tag", {"run_id": parent, "key": "drop", "value": "x"}))
    await ok(await post(client, "runs/delete-tag", {"run_id": parent, "key": "drop"}))
    update = {"run_id": parent, "status": "FINISHED", "end_time": 77, "run_name": "final"}
    await ok(await post(client, "runs/update", update))
    await ok(await post(client, "runs/delete", {"run_id": child}))
    await ok(await post(client, "runs/restore", {"run_id": child}))

    root = f"{exp}/{parent}/artifacts"
    assert (await client.put(f"{PROXY}/{root}/notes.txt", content=b"notes")).status_code == 200

    model = await _model(client, exp, parent, "kept")
    dropped = await _model(client, exp, parent, "dropped")
    models = [model, dropped]
    url = f"{API}/logged-models/{model}"
    await ok(await client.patch(url, json={"model_id": model, "status": "LOGGED_MODEL_READY"}))
    await ok(await client.patch(f"{url}/tags", json={"tags": [{"key": "u", "value": "2"}]}))
    await ok(await client.delete(f"{url}/tags/t"))
    params = {"model_id": model, "params": [{"key": "beta", "value": "2"}]}
    await ok(await client.post(f"{url}/params", json=params))
    await ok(await client.delete(f"{API}/logged-models/{dropped}"))
    outputs = {"run_id": parent, "models": [{"model_id": model, "step": 3}]}
    await ok(await post(client, "runs/outputs", outputs))
    dataset = {
        "dataset": {
            "name": "d",
            "digest": "x1",
            "source_type": "local",
            "source": "/data",
            "schema": "{}",
            "profile": "{}",
        },
        "tags": [{"key": "mlflow.data.context", "value": "train"}],
    }
    inputs = {"run_id": child, "datasets": [dataset], "models": [{"model_id": model}]}
    await ok(await post(client, "runs/log-inputs", inputs))

    await _registry(client, parent, model)
    traces = await _traces(client, exp, parent)

    # Purged: a run, and an experiment with its run (tombstones stay in the log).
    await ok(await post(client, "runs/delete", {"run_id": doomed}))
    await ok(await post(client, "experiments/delete", {"experiment_id": doomed_exp}))
    clock.advance(31 * DAY_MS)
    purged = await ok(await client.post(f"{TL}/admin/gc", json={"older_than": "30d"}))
    assert purged == {"runs_purged": 2, "experiments_purged": 1, "traces_purged": 1}
    # Writes after the purge, on the day the clock now shows.
    await ok(await post(client, "runs/set-tag", {"run_id": child, "key": "late", "value": "1"}))
    await _auth_events(backend, exp)
    imported = await _from_mlflow(backend, clock)
    return Made(
        [exp, back, doomed_exp, "0", *imported.experiments],
        runs + imported.runs,
        models + imported.models,
        traces,
    )


async def _traces(client: httpx.AsyncClient, exp: str, run_id: str) -> list[str]:
    """Every trace event: spans, info, tags, assessments, links, delete, restore, and a
    deleted trace for the purge."""

    async def spans(n: int, **headers: str) -> None:
        body = otlp_body([span(n, 1, attributes={"mlflow.spanInputs": {"q": n}}), span(n, 2, 1)])
        headers = {
            "content-type": "application/x-protobuf",
            "x-mlflow-experiment-id": exp,
            **headers,
        }
        response = await client.post("/v1/traces", content=body, headers=headers)
        assert response.status_code == 200, response.text

    kept, restored, doomed = trace_id(1), trace_id(2), trace_id(3)
    await spans(1, **{"x-mlflow-run-id": run_id})
    await ok(await start_trace(client, kept, exp, tags={"t": "1"}, metadata={"m": "1"}))
    url = f"{API3}/traces/{kept}"
    await ok(await client.patch(f"{url}/tags", json={"key": "drop", "value": "x"}))
    await ok(await client.request("DELETE", f"{url}/tags", json={"key": "drop"}))
    feedback = {
        "assessment_name": "ok",
        "feedback": {"value": True},
        "source": {"source_type": "HUMAN"},
    }
    first = await ok(await client.post(f"{url}/assessments", json={"assessment": feedback}))
    aid = first["assessment"]["assessment_id"]
    override = {**feedback, "feedback": {"value": False}, "overrides": aid}
    second = await ok(await client.post(f"{url}/assessments", json={"assessment": override}))
    await ok(await client.delete(f"{url}/assessments/{second['assessment']['assessment_id']}"))
    await ok(await post(client, "traces/link-to-run", {"trace_ids": [kept], "run_id": run_id}))
    prompts = {"trace_id": kept, "prompt_versions": [{"name": "p", "version": "1"}]}
    await ok(await post(client, "traces/link-prompts", prompts))
    for n in (2, 3):
        await spans(n)
    for trace in (restored, doomed):
        body = {"experiment_id": exp, "request_ids": [trace]}
        await ok(await client.post(f"{API3}/traces/delete-traces", json=body))
    await ok(await client.post(f"{TL}/traces/restore", json={"trace_ids": [restored]}))
    return [kept, restored, doomed]


async def _registry(client: httpx.AsyncClient, run_id: str, model_id: str) -> None:
    """Every registry event: models, versions, tags, aliases, stages, deletes."""

    async def call(method: str, path: str, body: dict[str, Any]) -> None:
        await ok(await client.request(method, f"{API}/{path}", json=body))

    await call(
        "POST", "registered-models/create", {"name": "clf", "tags": [{"key": "a", "value": "1"}]}
    )
    await call("POST", "registered-models/rename", {"name": "clf", "new_name": "classifier"})
    await call("PATCH", "registered-models/update", {"name": "classifier", "description": "d"})
    await call(
        "POST", "registered-models/set-tag", {"name": "classifier", "key": "b", "value": "2"}
    )
    await call("DELETE", "registered-models/delete-tag", {"name": "classifier", "key": "a"})
    source = {"name": "classifier", "source": f"runs:/{run_id}/model", "run_id": run_id}
    await call("POST", "model-versions/create", source)
    from_model = {"name": "classifier", "source": f"models:/{model_id}", "model_id": model_id}
    await call("POST", "model-versions/create", from_model)
    version = {"name": "classifier", "version": "1"}
    await call("PATCH", "model-versions/update", {**version, "description": "first"})
    await call("POST", "model-versions/set-tag", {**version, "key": "v", "value": "1"})
    await call("DELETE", "model-versions/delete-tag", {**version, "key": "v"})
    stage = {**version, "stage": "Production", "archive_existing_versions": False}
    await call("POST", "model-versions/transition-stage", stage)
    alias = {"name": "classifier", "alias": "champion", "version": "1"}
    await call("POST", "registered-models/alias", alias)
    await call("POST", "registered-models/alias", {**alias, "alias": "old"})
    await call("DELETE", "registered-models/alias", {"name": "classifier", "alias": "old"})
    await call("DELETE", "model-versions/delete", {"name": "classifier", "version": "2"})
    await call("POST", "registered-models/create", {"name": "scratch"})
    await call("DELETE", "registered-models/delete", {"name": "scratch"})
