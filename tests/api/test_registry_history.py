"""The registry's history and as-of answers, and the log behind them: a rejected command
appends nothing, a retried one appends once, a deleted model keeps its history."""

from __future__ import annotations

import base64

from tests.api.helpers import API, error, get, ok, post
from tests.api.test_registry import create, delete
from tests.api.test_registry_versions import version

TL = "/api/2.0/trackledger"


def alice(name: str = "alice") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:pw".encode()).decode()}


async def history(client, **params):
    return await ok(await client.get(f"{TL}/registered-models/history", params=params))


async def test_history_tells_who_registered_and_who_moved_the_alias(client, clock):
    await ok(
        await client.post(f"{API}/registered-models/create", json={"name": "m"}, headers=alice())
    )
    for _ in range(2):
        response = await client.post(
            f"{API}/model-versions/create",
            json={"name": "m", "source": "s3://b/m"},
            headers=alice(),
        )
        await ok(response)
    alias = f"{API}/registered-models/alias"
    await ok(
        await client.post(
            alias, json={"name": "m", "alias": "champion", "version": "1"}, headers=alice()
        )
    )
    clock.advance(60_000)
    await ok(
        await client.post(
            alias, json={"name": "m", "alias": "champion", "version": "2"}, headers=alice("bob")
        )
    )
    body = await history(client, name="m")
    events = body["events"]
    assert [e["type"] for e in events] == [
        "registry.created",
        "registry.version_created",
        "registry.version_created",
        "registry.alias_set",
        "registry.alias_set",
    ]
    assert {e["actor"] for e in events[:4]} == {"alice"}
    moved = events[-1]
    assert moved["actor"] == "bob"
    assert moved["data"]["alias"] == "champion"
    assert moved["data"]["previous_version"] == 1 and moved["data"]["version"] == 2
    assert moved["time"] - events[3]["time"] >= 60_000
    # Pages, as runs/history.
    first = await history(client, name="m", max_results=2)
    assert len(first["events"]) == 2
    rest = await history(client, name="m", page_token=first["next_page_token"])
    assert [e["position"] for e in first["events"] + rest["events"]] == [
        e["position"] for e in events
    ]
    by_id = await history(client, registered_model_id=body["registered_model_id"])
    assert by_id["events"] == events
    response = await client.get(f"{TL}/registered-models/history", params={"name": "nope"})
    error(response, "RESOURCE_DOES_NOT_EXIST", 404)


async def test_the_registry_as_of_a_past_moment(client, clock):
    await create(client, "m")
    await version(client, "m", "s3://b/one")
    await version(client, "m", "s3://b/two")
    alias = "registered-models/alias"
    await ok(await post(client, alias, {"name": "m", "alias": "champion", "version": "1"}))
    clock.advance(10_000)
    at_first = clock.now
    clock.advance(10_000)
    await ok(await post(client, alias, {"name": "m", "alias": "champion", "version": "2"}))
    await ok(
        await post(
            client,
            "model-versions/transition-stage",
            {"name": "m", "version": "2", "stage": "Production"},
        )
    )
    then = await ok(
        await client.get(
            f"{TL}/registered-models/alias",
            params={"name": "m", "alias": "champion", "as_of": at_first},
        )
    )
    now = await ok(await get(client, alias, name="m", alias="champion"))
    assert then["model_version"]["version"] == "1" and then["model_version"]["aliases"] == [
        "champion"
    ]
    assert now["model_version"]["version"] == "2"
    # The model as registered-models/get answered then: same rendering, older state.
    old = await ok(
        await client.get(f"{TL}/registered-models/get", params={"name": "m", "as_of": at_first})
    )
    current = await ok(await get(client, "registered-models/get", name="m"))
    assert old["registered_model"]["aliases"] == [{"alias": "champion", "version": "1"}]
    assert {v["current_stage"] for v in old["registered_model"]["latest_versions"]} == {"None"}
    assert current["registered_model"]["aliases"] == [{"alias": "champion", "version": "2"}]
    # Replaying up to now gives exactly what the live API answers.
    live = await ok(
        await client.get(
            f"{TL}/registered-models/get", params={"name": "m", "as_of": clock.now + 10**6}
        )
    )
    assert live == current
    version_then = await ok(
        await client.get(
            f"{TL}/model-versions/get", params={"name": "m", "version": "2", "as_of": at_first}
        )
    )
    assert version_then["model_version"]["current_stage"] == "None"
    # A log position works too: before anything of the model existed, it did not exist.
    response = await client.get(f"{TL}/registered-models/get", params={"name": "m", "as_of": 1})
    error(response, "RESOURCE_DOES_NOT_EXIST", 404)


async def test_a_deleted_model_keeps_its_history_and_its_past(client, clock):
    await create(client, "m", tags=[{"key": "k", "value": "v"}])
    await version(client, "m", "s3://b/m")
    clock.advance(1000)
    before_delete = clock.now
    clock.advance(1000)
    await ok(await delete(client, "registered-models/delete", {"name": "m"}))
    error(await get(client, "registered-models/get", name="m"), "RESOURCE_DOES_NOT_EXIST", 404)
    events = (await history(client, name="m"))["events"]
    assert [e["type"] for e in events] == [
        "registry.created",
        "registry.version_created",
        "registry.deleted",
    ]
    past = await ok(
        await client.get(
            f"{TL}/registered-models/get", params={"name": "m", "as_of": before_delete}
        )
    )
    assert past["registered_model"]["tags"] == [{"key": "k", "value": "v"}]
    # A new model of the same name has a history of its own; the old one is still there by id.
    await create(client, "m")
    assert [e["type"] for e in (await history(client, name="m"))["events"]] == ["registry.created"]
    old_id = (await history(client, name="m"))["registered_model_id"]
    assert old_id != events[0]["data"]["registered_model_id"]
    again = await history(client, registered_model_id=events[0]["data"]["registered_model_id"])
    assert len(again["events"]) == 3


async def test_rejected_registry_commands_append_nothing(client, logged):
    await create(client, "m")
    await create(client, "other")
    await version(client, "m", "s3://b/m")
    before = await logged()
    alias = f"{API}/registered-models/alias"
    rejected = [
        ("POST", "registered-models/create", {"name": "m"}),
        ("POST", "registered-models/rename", {"name": "m", "new_name": "other"}),
        ("POST", "registered-models/rename", {"name": "nope", "new_name": "x"}),
        ("PATCH", "registered-models/update", {"name": "nope", "description": "x"}),
        ("POST", "registered-models/set-tag", {"name": "m", "key": "../x", "value": "v"}),
        ("POST", "model-versions/create", {"name": "nope", "source": "s3://b/m"}),
        ("POST", "model-versions/create", {"name": "m", "source": "/local/path"}),
        ("PATCH", "model-versions/update", {"name": "m", "version": "7", "description": "x"}),
        ("POST", "model-versions/transition-stage", {"name": "m", "version": "1", "stage": "Nope"}),
        ("DELETE", "model-versions/delete", {"name": "m", "version": "x"}),
        ("POST", "model-versions/set-tag", {"name": "m", "version": "2", "key": "k", "value": "v"}),
        ("POST", alias.removeprefix(f"{API}/"), {"name": "m", "alias": "latest", "version": "1"}),
        ("POST", alias.removeprefix(f"{API}/"), {"name": "m", "alias": "a", "version": "5"}),
    ]
    for method, path, body in rejected:
        response = await client.request(method, f"{API}/{path}", json=body)
        assert 400 <= response.status_code < 500, (path, response.text)
    # Deleting what is not there changes nothing and says 200, as in MLflow.
    for path, body in [
        ("registered-models/delete-tag", {"name": "m", "key": "absent"}),
        ("registered-models/alias", {"name": "m", "alias": "absent"}),
        ("model-versions/delete-tag", {"name": "m", "version": "1", "key": "absent"}),
    ]:
        await ok(await client.request("DELETE", f"{API}/{path}", json=body))
    assert await logged() == before


async def test_a_retried_registration_appends_once(client, logged):
    await create(client, "m")
    before = await logged()
    headers = {"Idempotency-Key": "register-1"}
    body = {"name": "m", "source": "s3://b/m"}
    first = await ok(await client.post(f"{API}/model-versions/create", json=body, headers=headers))
    again = await ok(await client.post(f"{API}/model-versions/create", json=body, headers=headers))
    assert first == again and first["model_version"]["version"] == "1"
    assert await logged() == before + 1
