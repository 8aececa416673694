"""Registered models through the API: create, get, rename, update, delete, tags, aliases, search."""

from __future__ import annotations

import pytest

from tests.api.helpers import API, error, get, ok, post


async def create(client, name, **body):
    return await ok(await post(client, "registered-models/create", {"name": name, **body}))


async def delete(client, path, body):
    return await client.request("DELETE", f"{API}/{path}", json=body)


async def patch(client, path, body):
    return await client.request("PATCH", f"{API}/{path}", json=body)


async def model(client, name):
    return (await ok(await get(client, "registered-models/get", name=name)))["registered_model"]


async def search(client, **params):
    return await ok(await get(client, "registered-models/search", **params))


async def names(client, **params):
    return [m["name"] for m in (await search(client, **params)).get("registered_models", [])]


async def test_create_get_rename_update_delete(client, clock):
    body = await create(client, "m", tags=[{"key": "k", "value": "v"}, {"key": "n", "value": "1"}])
    created = body["registered_model"]
    assert created["name"] == "m" and created["tags"] == [
        {"key": "k", "value": "v"},
        {"key": "n", "value": "1"},
    ]
    assert created["creation_timestamp"] == created["last_updated_timestamp"]
    assert "description" not in created and "latest_versions" not in created
    got = await model(client, "m")
    assert got == created
    message = error(
        await post(client, "registered-models/create", {"name": "m"}),
        "RESOURCE_ALREADY_EXISTS",
        400,
    )
    assert message == "Registered Model (name=m) already exists."

    clock.advance(1000)
    renamed = await ok(
        await post(client, "registered-models/rename", {"name": "m", "new_name": "m2"})
    )
    assert renamed["registered_model"]["name"] == "m2"
    assert renamed["registered_model"]["last_updated_timestamp"] > created["last_updated_timestamp"]
    response = await get(client, "registered-models/get", name="m")
    assert (
        error(response, "RESOURCE_DOES_NOT_EXIST", 404) == "Registered Model with name=m not found"
    )

    updated = await ok(
        await patch(client, "registered-models/update", {"name": "m2", "description": "d"})
    )
    assert updated["registered_model"]["description"] == "d"
    assert (await model(client, "m2"))["description"] == "d"

    await ok(await delete(client, "registered-models/delete", {"name": "m2"}))
    error(await get(client, "registered-models/get", name="m2"), "RESOURCE_DOES_NOT_EXIST", 404)
    error(
        await delete(client, "registered-models/delete", {"name": "m2"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    # The name is free again; the new model has a life of its own.
    again = (await create(client, "m2"))["registered_model"]
    assert "tags" not in again and "description" not in again


async def test_rename_onto_a_taken_name_is_refused(client):
    await create(client, "a")
    await create(client, "b")
    response = await post(client, "registered-models/rename", {"name": "a", "new_name": "b"})
    assert (
        error(response, "RESOURCE_ALREADY_EXISTS", 400)
        == "Registered Model (name=b) already exists."
    )
    response = await post(client, "registered-models/rename", {"name": "a", "new_name": ""})
    assert "new_name" in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(client, "registered-models/rename", {"name": "zz", "new_name": "c"})
    error(response, "RESOURCE_DOES_NOT_EXIST", 404)
    assert await names(client) == ["a", "b"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Missing value for required parameter 'name'"),
        ("a/b", "Invalid model name 'a/b'. Names cannot contain '/' or ':'."),
        ("a:b", "Invalid model name 'a:b'. Names cannot contain '/' or ':'."),
        ("..", "Names may be treated as files"),
    ],
)
async def test_bad_names_are_refused(client, logged, name, message):
    before = await logged()
    response = await post(client, "registered-models/create", {"name": name})
    assert message in error(response, "INVALID_PARAMETER_VALUE", 400)
    assert await logged() == before


async def test_tags(client):
    await create(client, "m")
    await ok(
        await post(client, "registered-models/set-tag", {"name": "m", "key": "k", "value": "v"})
    )
    await ok(
        await post(client, "registered-models/set-tag", {"name": "m", "key": "e", "value": ""})
    )
    assert (await model(client, "m"))["tags"] == [
        {"key": "e", "value": ""},
        {"key": "k", "value": "v"},
    ]
    await ok(await delete(client, "registered-models/delete-tag", {"name": "m", "key": "k"}))
    await ok(await delete(client, "registered-models/delete-tag", {"name": "m", "key": "absent"}))
    assert (await model(client, "m"))["tags"] == [{"key": "e", "value": ""}]
    response = await post(
        client, "registered-models/set-tag", {"name": "m", "key": "a b!", "value": "x"}
    )
    assert "Names may only contain" in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(
        client, "registered-models/set-tag", {"name": "x", "key": "k", "value": "v"}
    )
    error(response, "RESOURCE_DOES_NOT_EXIST", 404)


async def test_search_filters_order_and_pages(client, clock):
    for i in range(12):
        clock.advance(10)
        await create(client, f"Model{i:02d}", tags=[{"key": "team", "value": "ab"[i % 2]}])
    assert await names(client, max_results=5) == [f"Model{i:02d}" for i in range(5)]
    assert await names(client, filter="name = 'Model03'") == ["Model03"]
    assert await names(client, filter="name LIKE '%1_'") == ["Model10", "Model11"]
    assert await names(client, filter="name LIKE 'model%'") == []  # LIKE is case-sensitive
    assert len(await names(client, filter="name ILIKE 'model%'")) == 12
    assert await names(client, filter="name IN ('Model01', 'Model02', 'x')") == [
        "Model01",
        "Model02",
    ]
    assert await names(client, filter="name != 'Model00' AND tags.team = 'a'") == [
        f"Model{i:02d}" for i in range(2, 12, 2)
    ]
    assert await names(client, filter="tags.team = 'b' AND name LIKE '%0%'") == [
        f"Model{i:02d}" for i in range(1, 10, 2)
    ]
    assert (await names(client, order_by=["name DESC"]))[:2] == ["Model11", "Model10"]
    assert (await names(client, order_by=["timestamp DESC"]))[:2] == ["Model11", "Model10"]
    assert (await names(client, order_by=["last_updated_timestamp ASC"]))[:2] == [
        "Model00",
        "Model01",
    ]
    seen, token = [], None
    while True:
        params = {"max_results": 5, **({"page_token": token} if token else {})}
        body = await search(client, **params)
        seen += [m["name"] for m in body.get("registered_models", [])]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == [f"Model{i:02d}" for i in range(12)]
    for bad in ["name > 'a'", "owner = 'x'", "tags.team > 'a'", "name = 3"]:
        error(
            await get(client, "registered-models/search", filter=bad),
            "INVALID_PARAMETER_VALUE",
            400,
        )
    response = await get(client, "registered-models/search", order_by=["creation_time"])
    error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await get(client, "registered-models/search", max_results=1001)
    error(response, "INVALID_PARAMETER_VALUE", 400)


async def test_prompts_are_left_out_unless_asked_for(client):
    await create(client, "model")
    await create(client, "prompt", tags=[{"key": "mlflow.prompt.is_prompt", "value": "true"}])
    assert await names(client) == ["model"]
    assert await names(client, filter="tags.`mlflow.prompt.is_prompt` = 'true'") == ["prompt"]
    assert await names(client, filter="tags.`mlflow.prompt.is_prompt` = 'false'") == ["model"]
    response = await post(client, "registered-models/create", {"name": "prompt"})
    assert "already taken by a prompt" in error(response, "RESOURCE_ALREADY_EXISTS", 400)
