"""Model versions through the API: sources, stages, aliases, deletes, tags, search."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.api.helpers import error, get, new_experiment, new_run, ok, post
from tests.api.test_registry import create, delete, model, patch


async def version(client, name, source, **body):
    response = await post(client, "model-versions/create", {"name": name, "source": source, **body})
    return (await ok(response))["model_version"]


async def get_version(client, name, number):
    response = await get(client, "model-versions/get", name=name, version=str(number))
    return (await ok(response))["model_version"]


async def run_model(client, name="m"):
    """A registered model and a run: (run_id, artifact_uri)."""
    await create(client, name)
    exp = await new_experiment(client, f"exp-{name}")
    run_id = await new_run(client, exp)
    run = (await ok(await get(client, "runs/get", run_id=run_id)))["run"]["info"]
    return run_id, run["artifact_uri"], exp


async def test_versions_from_a_run(client):
    run_id, artifacts, _ = await run_model(client)
    v1 = await version(client, "m", f"runs:/{run_id}/model", run_id=run_id)
    assert v1["version"] == "1" and v1["current_stage"] == "None" and v1["status"] == "READY"
    assert v1["description"] == "" and v1["run_id"] == run_id
    v2 = await version(client, "m", f"{artifacts}/model", run_id=run_id, description="d")
    assert v2["version"] == "2" and v2["description"] == "d"
    assert await get_version(client, "m", 2) == v2
    uri = await ok(await get(client, "model-versions/get-download-uri", name="m", version="2"))
    assert uri == {"artifact_uri": f"{artifacts}/model"}
    registered = await model(client, "m")
    assert [v["version"] for v in registered["latest_versions"]] == ["2"]
    assert registered["last_updated_timestamp"] == v2["creation_timestamp"]


@pytest.mark.parametrize(
    ("source", "with_run", "message"),
    [
        ("runs:/other/model", True, "The run_id request parameter must identify"),
        ("runs:/{run}/model", False, "The run_id request parameter must identify"),
        ("/tmp/model", True, "To use a local path as a model version source"),
        ("file:///tmp/model", False, "To use a local path as a model version source"),
        ("mlflow-artifacts:/elsewhere/model", True, "The run_id request parameter must identify"),
        ("{artifacts}/../../x", True, "without relative path references"),
        ("{artifacts}/%2e%2e/x", True, "without relative path references"),
        ("http://host:9000/models", True, "cannot use the 'http' scheme"),
        ("mlflow-artifacts://host:9000/models", True, "cannot use the 'mlflow-artifacts' scheme"),
        ("models:/m-unknown", True, "The model_id request parameter must identify"),
        ("s3://b/m", "x" * 300, "'run_id' exceeds the maximum length of 256 characters"),
    ],
)
async def test_sources_mlflow_refuses(client, logged, source, with_run, message):
    run_id, artifacts, _ = await run_model(client)
    before = await logged()
    body = {"run_id": with_run if isinstance(with_run, str) else run_id} if with_run else {}
    response = await post(
        client,
        "model-versions/create",
        {"name": "m", "source": source.format(run=run_id, artifacts=artifacts), **body},
    )
    assert message in error(response, "INVALID_PARAMETER_VALUE", 400)
    assert await logged() == before


async def test_other_stores_are_taken_as_given(client):
    await create(client, "m")
    assert (await version(client, "m", "s3://bucket/path/model"))[
        "source"
    ] == "s3://bucket/path/model"
    response = await post(client, "model-versions/create", {"name": "nope", "source": "s3://b/m"})
    assert (
        error(response, "RESOURCE_DOES_NOT_EXIST", 404)
        == "Registered Model with name=nope not found"
    )


async def test_a_version_from_a_logged_model_is_recorded_on_it(client):
    _, _, exp = await run_model(client)
    logged = (await ok(await post(client, "logged-models", {"experiment_id": exp})))["model"][
        "info"
    ]
    model_id = logged["model_id"]
    v1 = await version(client, "m", logged["artifact_uri"], model_id=model_id)
    assert v1["model_id"] == model_id
    v2 = await version(client, "m", f"models:/{model_id}", model_id=model_id)
    uri = await ok(await get(client, "model-versions/get-download-uri", name="m", version="2"))
    assert uri["artifact_uri"] == logged["artifact_uri"] and v2["source"] == f"models:/{model_id}"
    found = await ok(await client.get(f"/api/2.0/mlflow/logged-models/{model_id}"))
    tags = {t["key"]: t["value"] for t in found["model"]["info"]["tags"]}
    assert json.loads(tags["mlflow.modelVersions"]) == [
        {"name": "m", "version": 1},
        {"name": "m", "version": 2},
    ]
    response = await post(
        client, "model-versions/create", {"name": "m", "source": "file:///x", "model_id": model_id}
    )
    error(response, "INVALID_PARAMETER_VALUE", 400)


async def test_copy_by_alias_and_by_stage(client):
    run_id, _, _ = await run_model(client)
    src = await version(
        client, "m", f"runs:/{run_id}/model", run_id=run_id, tags=[{"key": "t", "value": "1"}]
    )
    await ok(
        await post(
            client, "registered-models/alias", {"name": "m", "alias": "best", "version": "1"}
        )
    )
    await create(client, "copy")
    copied = await version(client, "copy", "models:/m@best", run_id=run_id)
    assert copied["source"] == "models:/m/1" and copied["run_id"] == run_id
    uri = await ok(await get(client, "model-versions/get-download-uri", name="copy", version="1"))
    assert uri["artifact_uri"] == src["source"]
    await ok(
        await post(
            client,
            "model-versions/transition-stage",
            {"name": "m", "version": "1", "stage": "production"},
        )
    )
    by_stage = await version(client, "copy", "models:/m/Production")
    assert by_stage["source"] == "models:/m/1" and by_stage["run_id"] == run_id
    response = await post(
        client, "model-versions/create", {"name": "copy", "source": "models:/m@best", "run_id": "x"}
    )
    assert "must match the referenced model version" in error(
        response, "INVALID_PARAMETER_VALUE", 400
    )
    response = await post(
        client, "model-versions/create", {"name": "copy", "source": "models:/m@nope"}
    )
    error(response, "INVALID_PARAMETER_VALUE", 400)


async def test_stages_latest_versions_and_archiving(client):
    await create(client, "m")
    for _ in range(4):
        await version(client, "m", "s3://b/m")
    transition = "model-versions/transition-stage"
    for number, stage in [(1, "Production"), (2, "Staging"), (3, "Production")]:
        await ok(
            await post(client, transition, {"name": "m", "version": str(number), "stage": stage})
        )
    latest = await ok(await get(client, "registered-models/get-latest-versions", name="m"))
    assert {v["current_stage"]: v["version"] for v in latest["model_versions"]} == {
        "Production": "3",
        "Staging": "2",
        "None": "4",
    }
    moved = await ok(
        await post(
            client,
            transition,
            {"name": "m", "version": "4", "stage": "Production", "archive_existing_versions": True},
        )
    )
    assert moved["model_version"]["current_stage"] == "Production"
    stages = {n: (await get_version(client, "m", n))["current_stage"] for n in range(1, 5)}
    assert stages == {1: "Archived", 2: "Staging", 3: "Archived", 4: "Production"}
    body = await ok(
        await client.post(
            "/api/2.0/mlflow/registered-models/get-latest-versions",
            json={"name": "m", "stages": ["archived", "Staging"]},
        )
    )
    assert {v["current_stage"]: v["version"] for v in body["model_versions"]} == {
        "Archived": "3",
        "Staging": "2",
    }
    response = await post(client, transition, {"name": "m", "version": "1", "stage": "Gone"})
    assert "Invalid Model Version stage: Gone" in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(
        client,
        transition,
        {"name": "m", "version": "1", "stage": "None", "archive_existing_versions": True},
    )
    error(response, "INVALID_PARAMETER_VALUE", 400)


async def test_aliases_move_and_go_with_their_version(client):
    await create(client, "m")
    for _ in range(3):
        await version(client, "m", "s3://b/m")
    alias = "registered-models/alias"
    await ok(await post(client, alias, {"name": "m", "alias": "champion", "version": "1"}))
    await ok(await post(client, alias, {"name": "m", "alias": "champion", "version": "2"}))
    await ok(await post(client, alias, {"name": "m", "alias": "old", "version": "1"}))
    by_alias = await ok(await get(client, alias, name="m", alias="champion"))
    assert by_alias["model_version"]["version"] == "2"
    assert by_alias["model_version"]["aliases"] == ["champion"]
    assert (await model(client, "m"))["aliases"] == [
        {"alias": "champion", "version": "2"},
        {"alias": "old", "version": "1"},
    ]
    latest = await ok(await get(client, alias, name="m", alias="latest"))
    assert latest["model_version"]["version"] == "3"
    for bad, message in [
        ("latest", "'latest' alias name (case insensitive) is reserved."),
        ("v3", "Version alias name 'v3' is reserved."),
        ("a b", "Invalid alias name: 'a b'."),
    ]:
        response = await post(client, alias, {"name": "m", "alias": bad, "version": "1"})
        assert message in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(client, alias, {"name": "m", "alias": "x", "version": "9"})
    assert (
        error(response, "RESOURCE_DOES_NOT_EXIST", 404)
        == "Model Version (name=m, version=9) not found"
    )
    # Deleting a version removes the aliases that pointed at it.
    await ok(await delete(client, "model-versions/delete", {"name": "m", "version": "1"}))
    assert (await model(client, "m"))["aliases"] == [{"alias": "champion", "version": "2"}]
    response = await get(client, alias, name="m", alias="old")
    assert (
        error(response, "INVALID_PARAMETER_VALUE", 400) == "Registered model alias old not found."
    )
    await ok(await delete(client, alias, {"name": "m", "alias": "champion"}))
    assert "aliases" not in await model(client, "m")


async def test_deleted_versions_are_gone_and_their_numbers_never_come_back(client):
    await create(client, "m")
    for _ in range(3):
        await version(client, "m", "s3://b/m")
    await ok(await delete(client, "model-versions/delete", {"name": "m", "version": "3"}))
    response = await get(client, "model-versions/get", name="m", version="3")
    assert (
        error(response, "RESOURCE_DOES_NOT_EXIST", 404)
        == "Model Version (name=m, version=3) not found"
    )
    for path, body in [
        ("model-versions/update", {"name": "m", "version": "3", "description": "x"}),
        ("model-versions/delete", {"name": "m", "version": "3"}),
    ]:
        response = await client.request(
            "PATCH" if "update" in path else "DELETE", f"/api/2.0/mlflow/{path}", json=body
        )
        error(response, "RESOURCE_DOES_NOT_EXIST", 404)
    assert (await version(client, "m", "s3://b/m"))["version"] == "4"
    response = await get(client, "model-versions/get", name="m", version="abc")
    assert error(response, "INVALID_PARAMETER_VALUE", 400) == (
        "Parameter 'version' must be an integer, got 'abc'."
    )


async def test_update_description_and_tags(client):
    await create(client, "m")
    await version(client, "m", "s3://b/m")
    body = await ok(
        await patch(
            client, "model-versions/update", {"name": "m", "version": "1", "description": "x"}
        )
    )
    assert body["model_version"]["description"] == "x"
    tag = "model-versions/set-tag"
    await ok(await post(client, tag, {"name": "m", "version": "1", "key": "k", "value": "v"}))
    await ok(await post(client, tag, {"name": "m", "version": "1", "key": "e", "value": ""}))
    assert (await get_version(client, "m", 1))["tags"] == [
        {"key": "e", "value": ""},
        {"key": "k", "value": "v"},
    ]
    await ok(
        await delete(client, "model-versions/delete-tag", {"name": "m", "version": "1", "key": "k"})
    )
    assert (await get_version(client, "m", 1))["tags"] == [{"key": "e", "value": ""}]
    # Without a description the update clears it, as in MLflow.
    body = await ok(await patch(client, "model-versions/update", {"name": "m", "version": "1"}))
    assert "description" not in body["model_version"]


async def _search(client, **params):
    body = await ok(await get(client, "model-versions/search", **params))
    return [(v["name"], v["version"]) for v in body.get("model_versions", [])], body


async def test_search_versions(client, clock):
    run_id, _, _ = await run_model(client, "a")
    await create(client, "b")
    for name in ["a", "b", "a", "b", "a"]:
        clock.advance(10)
        body = {"run_id": run_id} if name == "a" else {}
        source = f"runs:/{run_id}/model" if name == "a" else "s3://b/m"
        await version(client, name, source, **body)
    found, _ = await _search(client)
    assert found == [("a", "3"), ("b", "2"), ("a", "2"), ("b", "1"), ("a", "1")]
    assert (await _search(client, filter="name = 'b'"))[0] == [("b", "2"), ("b", "1")]
    assert (await _search(client, filter=f"run_id = '{run_id}'"))[0] == [
        ("a", "3"),
        ("a", "2"),
        ("a", "1"),
    ]
    assert (await _search(client, filter="source_path = 's3://b/m' AND version_number > 1"))[0] == [
        ("b", "2")
    ]
    assert (await _search(client, filter="name IN ('b') AND version_number = '1'"))[0] == [
        ("b", "1")
    ]
    assert (await _search(client, order_by=["name DESC"]))[0] == [
        ("b", "2"),
        ("b", "1"),
        ("a", "3"),
        ("a", "2"),
        ("a", "1"),
    ]
    assert (await _search(client, order_by=["version_number DESC"]))[0][:3] == [
        ("a", "3"),
        ("a", "2"),
        ("b", "2"),
    ]
    tag = "model-versions/set-tag"
    await ok(await post(client, tag, {"name": "a", "version": "2", "key": "k", "value": "v"}))
    assert (await _search(client, filter="tags.k = 'v'"))[0] == [("a", "2")]
    pages, token = [], None
    while True:
        found, body = await _search(
            client, max_results=2, **({"page_token": token} if token else {})
        )
        pages.append(found)
        token = body.get("next_page_token")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    for bad in ["version_number > 1.5", "stage = 'x'", "source_path IN ('a')", "name > 'a'"]:
        error(
            await get(client, "model-versions/search", filter=bad), "INVALID_PARAMETER_VALUE", 400
        )
    await ok(await delete(client, "registered-models/delete", {"name": "b"}))
    assert (await _search(client))[0] == [("a", "3"), ("a", "2"), ("a", "1")]


async def test_concurrent_registrations_get_distinct_numbers(client):
    await create(client, "m")
    bodies = await asyncio.gather(
        *(
            post(client, "model-versions/create", {"name": "m", "source": f"s3://b/{i}"})
            for i in range(12)
        )
    )
    numbers = sorted([int((await ok(r))["model_version"]["version"]) for r in bodies])
    assert numbers == list(range(1, 13))
    found, _ = await _search(client, filter="name = 'm'")
    assert len(found) == 12
