"""MLflow's web UI's own artifact routes (get-artifact, model-versions/get-artifact,
upload-artifact), as MLflow's REST tests call them, and repeated slashes in a path."""

from __future__ import annotations

import pytest

from tests.api.helpers import error, new_experiment, new_run, ok, post

UPLOAD = "/ajax-api/2.0/mlflow/upload-artifact"


def _url(client, path: str) -> str:
    """The whole URL: a path of its own that starts with // would name a host."""
    return str(client.base_url).rstrip("/") + path


async def _history(client, run_id: str) -> list[dict[str, object]]:
    body = await ok(
        await client.get("/api/2.0/trackledger/runs/history", params={"run_id": run_id})
    )
    return [e["data"] for e in body["events"] if e["type"] == "run.artifact_logged"]


async def test_a_file_uploaded_through_the_ui_route_is_read_back_and_recorded(client):
    run_id = await new_run(client, await new_experiment(client))
    params = {"run_uuid": run_id, "path": "dir/test.txt"}
    assert await ok(await client.post(UPLOAD, params=params, content=b"hello world")) == {}
    got = await client.get("/get-artifact", params={"run_uuid": run_id, "path": "dir/test.txt"})
    assert got.status_code == 200 and got.content == b"hello world"
    got = await client.get("/get-artifact", params={"run_id": run_id, "path": "dir/test.txt"})
    assert got.content == b"hello world"
    listing = await ok(
        await client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "dir"})
    )
    assert listing["files"] == [{"path": "dir/test.txt", "is_dir": False, "file_size": 11}]
    assert [e["path"] for e in await _history(client, run_id)] == ["dir/test.txt"]


@pytest.mark.parametrize(
    ("params", "body", "message"),
    [
        ({}, b"x", "Request must specify run_uuid."),
        ({"run_uuid": "R"}, b"x", "Request must specify path."),
        ({"run_uuid": "R", "path": ""}, b"x", "Request must specify path."),
        ({"run_uuid": "R", "path": "../test.txt"}, b"x", "Invalid path"),
        ({"run_uuid": "R", "path": "/etc/passwd"}, b"x", "Invalid path"),
        ({"run_uuid": "R", "path": "dir/"}, b"x", "Invalid path: an artifact needs a file name"),
        ({"run_uuid": "R", "path": "."}, b"x", "Invalid path: an artifact needs a file name"),
        ({"run_uuid": "R", "path": "test.txt"}, b"", "Request must specify data."),
        (
            {"run_uuid": "R", "path": "big.bin"},
            b"x" * (10 * 1024 * 1024 + 1),
            "Artifact size is too large. Max size is 10MB.",
        ),
    ],
)
async def test_a_bad_upload_is_refused_in_mlflows_words_and_writes_nothing(
    client, params, body, message
):
    run_id = await new_run(client, await new_experiment(client))
    params = {k: run_id if v == "R" else v for k, v in params.items()}
    response = await client.post(UPLOAD, params=params, content=body)
    assert error(response, "INVALID_PARAMETER_VALUE", 400) == message
    assert await _history(client, run_id) == []
    listing = await ok(
        await client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    )
    assert "files" not in listing


async def test_unknown_runs_and_files_are_404(client):
    run_id = await new_run(client, await new_experiment(client))
    unknown = {"run_uuid": "0" * 32, "path": "a.txt"}
    error(await client.post(UPLOAD, params=unknown, content=b"x"), "RESOURCE_DOES_NOT_EXIST", 404)
    error(await client.get("/get-artifact", params=unknown), "RESOURCE_DOES_NOT_EXIST", 404)
    missing = {"run_id": run_id, "path": "nope.txt"}
    error(await client.get("/get-artifact", params=missing), "RESOURCE_DOES_NOT_EXIST", 404)


async def test_paths_are_checked_before_anything_is_looked_up(client):
    """MLflow's test_path_validation: the same 400 wherever the run or version is."""
    run_id = await new_run(client, await new_experiment(client))
    for path, params in [
        ("/api/2.0/mlflow/artifacts/list", {"run_id": run_id, "path": "../path"}),
        ("/get-artifact", {"run_id": run_id, "path": "../path"}),
        ("//model-versions/get-artifact", {"name": "model", "version": 1, "path": "../path"}),
    ]:
        response = await client.get(_url(client, path), params=params)
        assert response.status_code == 400
        assert response.json() == {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": "Invalid path",
        }


async def test_a_model_versions_file_is_read_from_its_runs_artifacts(client):
    run_id = await new_run(client, await new_experiment(client))
    await ok(await post(client, "registered-models/create", {"name": "rm"}))
    source = f"runs:/{run_id}/model"
    body = {"name": "rm", "source": source, "run_id": run_id}
    made = await post(client, "model-versions/create", body)
    version = (await ok(made))["model_version"]["version"]
    params = {"run_uuid": run_id, "path": "model/MLmodel"}
    await ok(await client.post(UPLOAD, params=params, content=b"flavors: {}\n"))
    wanted = {"name": "rm", "version": version, "path": "MLmodel"}
    got = await client.get("/model-versions/get-artifact", params=wanted)
    assert got.status_code == 200 and got.content == b"flavors: {}\n"
    wanted["version"] = "7"
    error(
        await client.get("/model-versions/get-artifact", params=wanted),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )


async def test_repeated_slashes_in_a_path_count_as_one(client):
    exp_id = await new_experiment(client, "slashes")
    found = await ok(
        await client.get(
            _url(client, "//api/2.0/mlflow//experiments/get"), params={"experiment_id": exp_id}
        )
    )
    assert found["experiment"]["name"] == "slashes"
