from __future__ import annotations

import base64
import json

from tests.api.helpers import API, error, get, new_experiment, new_run, ok, post


async def test_default_experiment_exists(client):
    body = await ok(await get(client, "experiments/get", experiment_id="0"))
    assert body["experiment"]["name"] == "Default"
    assert body["experiment"]["artifact_location"] == "mlflow-artifacts:/0"
    assert body["experiment"]["lifecycle_stage"] == "active"


async def test_create_get_and_get_by_name(client):
    exp_id = await new_experiment(client, "first")
    assert exp_id == "1"
    body = await ok(await get(client, "experiments/get", experiment_id=exp_id))
    experiment = body["experiment"]
    assert experiment["name"] == "first"
    assert experiment["artifact_location"] == "mlflow-artifacts:/1"
    assert isinstance(experiment["creation_time"], int)
    assert experiment["last_update_time"] == experiment["creation_time"]
    assert "tags" not in experiment  # empty lists are omitted
    by_name = await ok(await get(client, "experiments/get-by-name", experiment_name="first"))
    assert by_name["experiment"] == experiment


async def test_get_by_name_missing_is_404_resource_does_not_exist(client):
    # mlflow.set_experiment depends on exactly this code to create a missing experiment.
    response = await get(client, "experiments/get-by-name", experiment_name="nope")
    error(response, "RESOURCE_DOES_NOT_EXIST", 404)


async def test_create_with_tags_and_artifact_location(client):
    body = {
        "name": "tagged",
        "artifact_location": "s3://bucket/path",
        "tags": [{"key": "team", "value": "vision"}, {"key": "k", "value": ""}],
    }
    exp_id = (await ok(await post(client, "experiments/create", body)))["experiment_id"]
    experiment = (await ok(await get(client, "experiments/get", experiment_id=exp_id)))[
        "experiment"
    ]
    assert experiment["artifact_location"] == "s3://bucket/path"
    assert experiment["tags"] == [{"key": "k", "value": ""}, {"key": "team", "value": "vision"}]


async def test_duplicate_name_is_resource_already_exists_400(client, events):
    await new_experiment(client, "dup")
    before = await events()
    response = await post(client, "experiments/create", {"name": "dup"})
    error(response, "RESOURCE_ALREADY_EXISTS", 400)
    assert await events() == before


async def test_name_stays_taken_while_deleted(client):
    exp_id = await new_experiment(client, "gone")
    await ok(await post(client, "experiments/delete", {"experiment_id": exp_id}))
    error(
        await post(client, "experiments/create", {"name": "gone"}), "RESOURCE_ALREADY_EXISTS", 400
    )


async def test_bad_experiment_ids(client):
    message = error(
        await get(client, "experiments/get", experiment_id="abc"), "INVALID_PARAMETER_VALUE", 400
    )
    assert "must be a valid integer" in message
    error(await get(client, "experiments/get", experiment_id="999"), "RESOURCE_DOES_NOT_EXIST", 404)
    error(await get(client, "experiments/get"), "INVALID_PARAMETER_VALUE", 400)


async def test_create_rejects_blank_long_and_wrongly_typed_names(client, events):
    before = await events()
    error(await post(client, "experiments/create", {"name": "   "}), "INVALID_PARAMETER_VALUE", 400)
    error(await post(client, "experiments/create", {}), "INVALID_PARAMETER_VALUE", 400)
    error(
        await post(client, "experiments/create", {"name": "x" * 501}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    message = error(
        await post(client, "experiments/create", {"name": 5}), "INVALID_PARAMETER_VALUE", 400
    )
    assert "'name'" in message
    bad_tag = {"name": "t", "tags": [{"key": "k", "value": "v" * 20001}]}
    error(await post(client, "experiments/create", bad_tag), "INVALID_PARAMETER_VALUE", 400)
    assert await events() == before


async def test_rename(client):
    exp_id = await new_experiment(client, "old")
    await new_experiment(client, "taken")
    await ok(await post(client, "experiments/update", {"experiment_id": exp_id, "new_name": "new"}))
    experiment = (await ok(await get(client, "experiments/get", experiment_id=exp_id)))[
        "experiment"
    ]
    assert experiment["name"] == "new"
    error(
        await get(client, "experiments/get-by-name", experiment_name="old"),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    # Renaming onto a name another experiment holds is MLflow's BAD_REQUEST.
    response = await post(
        client, "experiments/update", {"experiment_id": exp_id, "new_name": "taken"}
    )
    error(response, "BAD_REQUEST", 400)


async def test_rename_deleted_is_invalid_state(client):
    exp_id = await new_experiment(client, "x")
    await ok(await post(client, "experiments/delete", {"experiment_id": exp_id}))
    response = await post(client, "experiments/update", {"experiment_id": exp_id, "new_name": "y"})
    error(response, "INVALID_STATE", 500)


async def test_experiment_tags(client):
    exp_id = await new_experiment(client)
    await ok(
        await post(
            client,
            "experiments/set-experiment-tag",
            {"experiment_id": exp_id, "key": "a", "value": "1"},
        )
    )
    await ok(
        await post(
            client,
            "experiments/set-experiment-tag",
            {"experiment_id": exp_id, "key": "a", "value": "2"},
        )
    )
    experiment = (await ok(await get(client, "experiments/get", experiment_id=exp_id)))[
        "experiment"
    ]
    assert experiment["tags"] == [{"key": "a", "value": "2"}]
    await ok(
        await post(
            client, "experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "a"}
        )
    )
    experiment = (await ok(await get(client, "experiments/get", experiment_id=exp_id)))[
        "experiment"
    ]
    assert "tags" not in experiment
    response = await post(
        client, "experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "a"}
    )
    error(response, "RESOURCE_DOES_NOT_EXIST", 404)
    bad_key = {"experiment_id": exp_id, "key": "../x", "value": "1"}
    error(
        await post(client, "experiments/set-experiment-tag", bad_key),
        "INVALID_PARAMETER_VALUE",
        400,
    )


async def test_delete_and_restore_cascade_to_runs(client):
    exp_id = await new_experiment(client)
    kept = await new_run(client, exp_id)
    deleted_before = await new_run(client, exp_id)
    await ok(await post(client, "runs/delete", {"run_id": deleted_before}))
    await ok(await post(client, "experiments/delete", {"experiment_id": exp_id}))
    experiment = (await ok(await get(client, "experiments/get", experiment_id=exp_id)))[
        "experiment"
    ]
    assert experiment["lifecycle_stage"] == "deleted"
    run = (await ok(await get(client, "runs/get", run_id=kept)))["run"]
    assert run["info"]["lifecycle_stage"] == "deleted"
    error(
        await post(client, "runs/create", {"experiment_id": exp_id}), "INVALID_PARAMETER_VALUE", 400
    )
    error(
        await post(client, "experiments/delete", {"experiment_id": exp_id}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    await ok(await post(client, "experiments/restore", {"experiment_id": exp_id}))
    # MLflow restores every run of the experiment, including one deleted on its own before.
    for run_id in (kept, deleted_before):
        run = (await ok(await get(client, "runs/get", run_id=run_id)))["run"]
        assert run["info"]["lifecycle_stage"] == "active"
    error(
        await post(client, "experiments/restore", {"experiment_id": exp_id}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )


async def test_search_filters_order_and_pages(client):
    for name, team in (("alpha", "a"), ("beta", "b"), ("gamma", "a"), ("delta", None)):
        body = {"name": name, "tags": [{"key": "team", "value": team}] if team else []}
        await ok(await post(client, "experiments/create", body))

    async def names(**body):
        result = await ok(await post(client, "experiments/search", {"max_results": 100, **body}))
        return [e["name"] for e in result.get("experiments", [])]

    # Default order: creation_time DESC, experiment_id ASC.
    assert await names() == ["delta", "gamma", "beta", "alpha", "Default"]
    assert await names(filter="name LIKE '%a'") == ["delta", "gamma", "beta", "alpha"]
    assert await names(filter="name ILIKE 'ALPHA'") == ["alpha"]
    assert await names(filter="name LIKE 'ALPHA'") == []
    assert await names(filter="tags.team = 'a'") == ["gamma", "alpha"]
    assert await names(filter="tags.team != 'a'") == ["beta"]
    assert await names(filter="tags.team IS NULL") == ["delta", "Default"]
    assert await names(filter="name = 'beta' AND tags.team = 'b'") == ["beta"]
    assert await names(order_by=["name ASC"]) == ["Default", "alpha", "beta", "delta", "gamma"]
    assert (await names(filter="creation_time > 0", order_by=["name DESC"]))[0] == "gamma"
    first = await ok(
        await post(client, "experiments/search", {"max_results": 2, "order_by": ["name"]})
    )
    assert [e["name"] for e in first["experiments"]] == ["Default", "alpha"]
    token = first["next_page_token"]
    assert json.loads(base64.b64decode(token)) == {"offset": 2}
    rest = await ok(
        await post(
            client,
            "experiments/search",
            {"max_results": 10, "order_by": ["name"], "page_token": token},
        )
    )
    assert [e["name"] for e in rest["experiments"]] == ["beta", "delta", "gamma"]
    assert "next_page_token" not in rest


async def test_search_view_types(client):
    exp_id = await new_experiment(client, "dead")
    await ok(await post(client, "experiments/delete", {"experiment_id": exp_id}))
    for view, expected in (
        ("ACTIVE_ONLY", ["Default"]),
        ("DELETED_ONLY", ["dead"]),
        ("ALL", ["dead", "Default"]),
    ):
        result = await ok(
            await post(client, "experiments/search", {"max_results": 10, "view_type": view})
        )
        assert [e["name"] for e in result["experiments"]] == expected
    result = await ok(
        await client.get(f"{API}/experiments/search", params={"max_results": 10, "view_type": "2"})
    )
    assert [e["name"] for e in result["experiments"]] == ["dead"]


async def test_search_errors(client):
    for bad in ("name = ", "name == 'x' OR", "metrics.x > 1", "creation_time > 1.5", "name LIKE 5"):
        response = await post(client, "experiments/search", {"max_results": 10, "filter": bad})
        error(response, "INVALID_PARAMETER_VALUE", 400)
    for max_results in (0, 50001, "abc"):
        response = await post(client, "experiments/search", {"max_results": max_results})
        error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(
        client, "experiments/search", {"max_results": 10, "page_token": "not-a-token"}
    )
    error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(client, "experiments/search", {"max_results": 10, "order_by": ["tags.x"]})
    error(response, "INVALID_PARAMETER_VALUE", 400)
