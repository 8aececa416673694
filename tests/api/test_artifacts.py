"""The artifact proxy in process: round trips, listings, refusals of unsafe paths."""

from __future__ import annotations

import hashlib

import pytest

from tests.api.helpers import error, get, new_experiment, new_run, ok, post

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


async def test_upload_download_list_delete(client, tmp_path):
    exp_id = await new_experiment(client)
    run_id = await new_run(client, exp_id)
    root = f"{exp_id}/{run_id}/artifacts"
    body = b"hello artifacts" * 1000
    response = await client.put(f"{PROXY}/{root}/sub/a.txt", content=body)
    assert response.status_code == 200
    await client.put(f"{PROXY}/{root}/empty.txt", content=b"")
    got = await client.get(f"{PROXY}/{root}/sub/a.txt")
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-type"].startswith("text/plain")
    listing = await ok(await client.get(PROXY, params={"path": root}))
    assert listing["files"] == [
        {"path": "empty.txt", "is_dir": False},  # MLflow omits the size of empty files
        {"path": "sub", "is_dir": True},
    ]
    # Listing a file is empty: the client tells files from directories this way.
    assert await ok(await client.get(PROXY, params={"path": f"{root}/sub/a.txt"})) == {}
    params = {"run_id": run_id, "path": "sub"}
    tracking = await ok(await client.get("/api/2.0/mlflow/artifacts/list", params=params))
    assert tracking["root_uri"].endswith(f"{run_id}/artifacts")
    assert tracking["files"] == [{"path": "sub/a.txt", "is_dir": False, "file_size": len(body)}]
    error(await client.get(f"{PROXY}/{root}/sub"), "INVALID_PARAMETER_VALUE", 400)
    error(await client.get(f"{PROXY}/{root}/nope"), "RESOURCE_DOES_NOT_EXIST", 404)
    # The upload is in the run's history, with its size and checksum.
    history = await ok(
        await client.get("/api/2.0/trackledger/runs/history", params={"run_id": run_id})
    )
    logged = [e["data"] for e in history["events"] if e["type"] == "run.artifact_logged"]
    assert logged[0] == {
        "run_id": run_id,
        "path": "sub/a.txt",
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    await ok(await client.delete(f"{PROXY}/{root}/sub"))
    assert (await ok(await client.get(PROXY, params={"path": root})))["files"] == [
        {"path": "empty.txt", "is_dir": False}
    ]


@pytest.mark.parametrize(
    "path",
    [
        "%2e%2e/escape.txt",
        "a/%2e%2e/%2e%2e/escape.txt",
        "%252e%252e/escape.txt",
        "a%2f..%2f..%2fescape.txt",
        "a%5c..%5cescape.txt",
        "%2fetc/escape.txt",
        "C:%5cescape.txt",
        "a%23b",
        "a%00b",
    ],
)
async def test_unsafe_paths_are_refused(client, tmp_path, path):
    for method in ("put", "get", "delete"):
        response = await getattr(client, method)(
            f"{PROXY}/{path}", **({"content": b"x"} if method == "put" else {})
        )
        assert response.status_code in (400, 404), (method, response.status_code)
        if response.status_code == 400:
            assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    outside = [p for p in tmp_path.rglob("*") if "escape" in p.name]
    assert outside == []


async def test_a_local_store_declines_multipart_so_the_client_falls_back(client):
    from mlflow.exceptions import _UnsupportedMultipartUploadException

    mpu = "/api/2.0/mlflow-artifacts/mpu"
    bodies = {
        "create": {"path": "/home/me/big.bin", "num_parts": 3},
        "complete": {
            "path": "/home/me/big.bin",
            "upload_id": "u",
            "parts": [{"part_number": 1, "etag": '"e"', "url": "http://x"}],
        },
        "abort": {"path": "/home/me/big.bin", "upload_id": "u"},
    }
    for action, body in bodies.items():
        response = await client.post(f"{mpu}/{action}/1/x/artifacts", json=body)
        # MLflow's code, and the words its client falls back to one streamed PUT on.
        error(response, "NOT_IMPLEMENTED", 501)
        assert response.json()["message"] == _UnsupportedMultipartUploadException.MESSAGE
    info = await ok(await client.get("/api/3.0/mlflow/server-info"))
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False
    # The request is read first, as MLflow's handler does.
    missing = await client.post(f"{mpu}/create/1/x/artifacts", json={})
    error(missing, "INVALID_PARAMETER_VALUE", 400)
    assert "'path'" in missing.json()["message"]
    for body in (
        {"path": "/a/big.bin", "num_parts": 10_001},
        {"path": "/a/big.bin", "num_parts": -1},
        {"path": "/a/", "num_parts": 1},
        {"path": "/a/..", "num_parts": 1},
    ):
        response = await client.post(f"{mpu}/create/1/x/artifacts", json=body)
        error(response, "INVALID_PARAMETER_VALUE", 400)
    incomplete = {"path": "/a/b", "upload_id": "u"}  # no parts
    response = await client.post(f"{mpu}/complete/1/x/artifacts", json=incomplete)
    error(response, "INVALID_PARAMETER_VALUE", 400)


async def test_logged_models(client):
    exp_id = await new_experiment(client)
    run_id = await new_run(client, exp_id)
    body = {
        "experiment_id": exp_id,
        "name": "model",
        "source_run_id": run_id,
        "params": [{"key": "alpha", "value": "0.5"}],
        "tags": [{"key": "t", "value": "1"}],
    }
    model = (await ok(await client.post("/api/2.0/mlflow/logged-models", json=body)))["model"]
    model_id = model["info"]["model_id"]
    assert model_id.startswith("m-") and model["info"]["status"] == "LOGGED_MODEL_PENDING"
    assert (
        model["info"]["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/models/{model_id}/artifacts"
    )
    assert model["data"]["params"] == [{"key": "alpha", "value": "0.5"}]
    patched = await client.patch(
        f"/api/2.0/mlflow/logged-models/{model_id}",
        json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
    )
    assert (await ok(patched))["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    await ok(
        await client.patch(
            f"/api/2.0/mlflow/logged-models/{model_id}/tags",
            json={"tags": [{"key": "u", "value": "2"}]},
        )
    )
    await ok(
        await post(
            client,
            "runs/outputs",
            {"run_id": run_id, "models": [{"model_id": model_id, "step": 3}]},
        )
    )
    run = (await ok(await get(client, "runs/get", run_id=run_id)))["run"]
    assert run["outputs"] == {"model_outputs": [{"model_id": model_id, "step": 3}]}
    search = {"experiment_ids": [exp_id], "filter": "name = 'model'"}
    found = await ok(await client.post("/api/2.0/mlflow/logged-models/search", json=search))
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    assert {t["key"] for t in found["models"][0]["info"]["tags"]} == {"t", "u"}
    none = {"experiment_ids": [exp_id], "filter": "name = 'other' OR tags.t = '9'"}
    assert await ok(await client.post("/api/2.0/mlflow/logged-models/search", json=none)) == {}
    await ok(await client.delete(f"/api/2.0/mlflow/logged-models/{model_id}"))
    error(
        await client.get(f"/api/2.0/mlflow/logged-models/{model_id}"),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    bad = {"experiment_id": exp_id, "name": "a/b"}
    error(
        await client.post("/api/2.0/mlflow/logged-models", json=bad), "INVALID_PARAMETER_VALUE", 400
    )


async def test_purging_a_run_removes_its_artifacts(client, clock, tmp_path):
    exp_id = await new_experiment(client)
    run_id = await new_run(client, exp_id)
    await ok(await client.put(f"{PROXY}/{exp_id}/{run_id}/artifacts/model.bin", content=b"w" * 100))
    run_dir = tmp_path / "artifacts" / exp_id / run_id
    assert (run_dir / "artifacts" / "model.bin").exists()
    await ok(await post(client, "runs/delete", {"run_id": run_id}))
    clock.advance(31 * 86_400_000)
    purged = await ok(
        await client.post("/api/2.0/trackledger/admin/gc", json={"older_than": "30d"})
    )
    assert purged["runs_purged"] == 1
    assert not run_dir.exists()


def _tree(root) -> dict[str, bytes | None]:
    """Every file (with its bytes) and directory under ``root``."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


_DEEP = "/".join(["d" * 200] * 20) + "/f.txt"


@pytest.mark.parametrize(
    "path, needle",
    [
        ("a/" + "x" * 256, "longer than 255 bytes"),
        ("x" * 300 + "/file.txt", "longer than 255 bytes"),
        ("a/" + "%C3%A9" * 128 + ".txt", "longer than 255 bytes"),  # 260 bytes of UTF-8
        (_DEEP, "longer than 3072 bytes"),
        # Encoded three times: the server decodes once, the check decodes the rest.
        ("%25252e%25252e/escape.txt", "leaves the artifact root"),
        ("a/%25252e%25252e/%25252e%25252e/escape.txt", "leaves the artifact root"),
        ("%2525252e%2525252e/escape.txt", "leaves the artifact root"),
        ("%25252fetc/escape.txt", "absolute"),
        ("a/%25255c..%25255cescape.txt", "Invalid path"),
        ("a%252523b", "Invalid path"),
        ("a%252500b", "Invalid path"),
        ("a/%25" + "25" * 14 + "2e%25" + "25" * 14 + "2e/escape.txt", "Invalid path"),
    ],
)
async def test_hostile_artifact_paths_are_refused_and_write_nothing(
    client, events, tmp_path, path, needle
):
    root = tmp_path / "artifacts"
    await ok(await client.put(f"{PROXY}/keep/file.txt", content=b"keep"))
    before, logged = _tree(root), await events()
    for method in ("put", "get", "delete"):
        response = await getattr(client, method)(
            f"{PROXY}/{path}", **({"content": b"x" * 10} if method == "put" else {})
        )
        assert needle in error(response, "INVALID_PARAMETER_VALUE", 400), method
    listing = await client.get(PROXY, params={"path": path.replace("%2525", "%25")})
    error(listing, "INVALID_PARAMETER_VALUE", 400)
    assert _tree(root) == before
    assert await events() == logged
    assert not [p for p in tmp_path.rglob("*") if "escape" in p.name]


async def test_an_upload_onto_a_directory_or_below_a_file_is_refused(client, events, tmp_path):
    exp_id = await new_experiment(client)
    run_id = await new_run(client, exp_id)
    base = f"{exp_id}/{run_id}/artifacts"
    await ok(await client.put(f"{PROXY}/{base}/dir/inner.txt", content=b"inner"))
    await ok(await client.put(f"{PROXY}/{base}/file.txt", content=b"file"))
    root = tmp_path / "artifacts"
    before, logged = _tree(root), await events()
    for path, needle in [
        ("dir", "is an existing directory"),
        ("dir/", "needs a file name"),
        ("file.txt/child.txt", "below the existing file"),
        ("file.txt/deeper/child.txt", "below the existing file"),
        ("dir/inner.txt/x", "below the existing file"),
    ]:
        response = await client.put(f"{PROXY}/{base}/{path}", content=b"new bytes")
        assert needle in error(response, "INVALID_PARAMETER_VALUE", 400), path
    # Nothing half-written: no temporary file, no directory made, no history event.
    assert _tree(root) == before
    assert await events() == logged
    # Reading or deleting below a file finds nothing there.
    error(await client.get(f"{PROXY}/{base}/file.txt/child.txt"), "RESOURCE_DOES_NOT_EXIST", 404)
    await ok(await client.delete(f"{PROXY}/{base}/file.txt/child.txt"))
    assert _tree(root) == before
    download = await client.get(f"{PROXY}/{base}/file.txt")
    assert download.status_code == 200 and download.content == b"file"


async def test_deleting_a_tag_a_logged_model_lacks_is_a_404_and_appends_nothing(client, events):
    exp_id = await new_experiment(client)
    body = {"experiment_id": exp_id, "name": "model", "tags": [{"key": "t", "value": "1"}]}
    model = (await ok(await client.post("/api/2.0/mlflow/logged-models", json=body)))["model"]
    model_id = model["info"]["model_id"]
    url = f"/api/2.0/mlflow/logged-models/{model_id}/tags/t"
    await ok(await client.delete(url))
    before = await events()
    message = error(await client.delete(url), "RESOURCE_DOES_NOT_EXIST", 404)
    assert message == f"No tag with key 't' found for model with ID '{model_id}'."
    assert await events() == before
    got = (await ok(await client.get(f"/api/2.0/mlflow/logged-models/{model_id}")))["model"]
    assert not got["info"].get("tags")


async def test_a_logged_models_artifacts_are_listed_and_read(client):
    exp_id = await new_experiment(client)
    body = {"experiment_id": exp_id, "name": "model"}
    model = (await ok(await client.post("/api/2.0/mlflow/logged-models", json=body)))["model"]
    model_id, root = model["info"]["model_id"], model["info"]["artifact_uri"]
    stored = root.removeprefix("mlflow-artifacts:/")
    for path, content in (("MLmodel", b"flavors: {}\n"), ("data/weights.bin", b"\x00\x01")):
        await ok(await client.put(f"{PROXY}/{stored}/{path}", content=content))
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        base = f"{prefix}/logged-models/{model_id}/artifacts"
        listed = await ok(await client.get(f"{base}/directories"))
        assert listed["root_uri"] == root
        assert {f["path"]: f["is_dir"] for f in listed["files"]} == {
            "MLmodel": False,
            "data": True,
        }
        inner = await ok(
            await client.get(f"{base}/directories", params={"artifact_directory_path": "data"})
        )
        assert inner["files"] == [{"path": "data/weights.bin", "is_dir": False, "file_size": 2}]
        read = await client.get(f"{base}/files", params={"artifact_file_path": "MLmodel"})
        assert read.status_code == 200 and read.content == b"flavors: {}\n"
    base = f"/api/2.0/mlflow/logged-models/{model_id}/artifacts"
    error(await client.get(f"{base}/files"), "BAD_REQUEST", 400)
    error(
        await client.get(f"{base}/files", params={"artifact_file_path": "../../x"}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    error(
        await client.get(f"{base}/files", params={"artifact_file_path": "nothing"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    unknown = "/api/2.0/mlflow/logged-models/m-unknown/artifacts/directories"
    error(await client.get(unknown), "RESOURCE_DOES_NOT_EXIST", 404)
