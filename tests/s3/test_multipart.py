"""Multipart uploads (MLflow's /mpu endpoints) through the real mlflow client and real
servers: parts go straight to S3 (moto's server) and are assembled there; a local
destination declines, and the client falls back to one streamed PUT. Aborts, and
completions S3 refuses, through the endpoints themselves."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FLOW = Path(__file__).with_name("multipart_flow.py")
#: The client's part size: S3's (and moto's) smallest part but for the last one.
PART = 5 * 2**20
#: Three parts, the last one short; the server's own proxied upload would use two.
SIZE = 2 * PART + 2**20
TL = "/api/2.0/trackledger"


def _artifact_events(server: ServerProcess, run_id: str) -> list[dict]:
    history = loopback.get(f"{server.url}{TL}/runs/history", params={"run_id": run_id}).json()
    return [e["data"] for e in history["events"] if e["type"] == "run.artifact_logged"]


def _capabilities(server: ServerProcess) -> tuple[bool, bool]:
    info = loopback.get(f"{server.url}/api/3.0/mlflow/server-info").json()
    return info["multipart_uploads_enabled"], info["multipart_downloads_enabled"]


def test_the_client_sends_parts_to_s3_and_falls_back_on_a_local_store(tmp_path, bucket):
    # One backend: what is tested is the artifact store (test_s3_artifacts.py records
    # uploads on both).
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(SIZE))
    (tmp_path / "local").mkdir()
    s3 = ServerProcess(tmp_path, None, "--artifacts-destination", f"s3://{bucket}/a")
    local = ServerProcess(tmp_path / "local", None, "--artifacts-destination", "files")
    s3.start()
    try:
        local.start()
        assert _capabilities(s3) == (True, False)
        assert _capabilities(local) == (False, False)
        env = {
            **os.environ,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
            "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(PART),
            "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(PART),
        }
        done = subprocess.run(
            [sys.executable, str(FLOW), str(big), s3.url, local.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        on_s3, on_disk = json.loads(done.stdout.strip().splitlines()[-1])
        assert on_s3["same"] and on_disk["same"]

        # S3 holds one object of three parts: the client's, not the server's two.
        client = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
        listed = client.list_objects_v2(Bucket=bucket, Prefix="a/")["Contents"]
        key = next(o["Key"] for o in listed if o["Key"].endswith("/big/big.bin"))
        assert f"/{on_s3['run_id']}/artifacts/" in key
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == SIZE and head["ETag"].endswith('-3"')
        # Recorded in the run's history; the server never saw the bytes to hash them.
        assert _artifact_events(s3, on_s3["run_id"]) == [
            {"run_id": on_s3["run_id"], "path": "big/big.bin", "size": SIZE, "sha256": ""}
        ]
        # The local store declined: one streamed PUT, hashed on the way.
        assert _artifact_events(local, on_disk["run_id"]) == [
            {
                "run_id": on_disk["run_id"],
                "path": "big/big.bin",
                "size": SIZE,
                "sha256": hashlib.sha256(big.read_bytes()).hexdigest(),
            }
        ]
        assert (tmp_path / "local" / "files").is_dir()

        run_root = on_s3["artifact_uri"].removeprefix("mlflow-artifacts:").strip("/")
        _abort_and_refusals(s3, client, bucket, run_root)
    finally:
        local.stop()
        s3.stop()


def _abort_and_refusals(server: ServerProcess, client, bucket: str, run_root: str) -> None:
    mpu = f"{server.url}/api/2.0/mlflow-artifacts/mpu"
    target = f"{run_root}/dropped"
    name = {"path": "/elsewhere/part.bin"}
    created = loopback.post(f"{mpu}/create/{target}", json={**name, "num_parts": 2})
    assert created.status_code == 200, created.text
    upload_id = created.json()["upload_id"]
    credentials = created.json()["credentials"]
    assert [c["part_number"] for c in credentials] == [1, 2]
    sent = loopback.put(credentials[0]["url"], content=os.urandom(PART))
    assert sent.status_code == 200, sent.text
    assert sent.headers["ETag"]

    # A part S3 never received: refused, and nothing is stored.
    wrong = {**name, "upload_id": upload_id, "parts": [{"part_number": 1, "etag": '"00"'}]}
    refused = loopback.post(f"{mpu}/complete/{target}", json=wrong)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"

    aborted = loopback.post(f"{mpu}/abort/{target}", json={**name, "upload_id": upload_id})
    assert aborted.status_code == 200 and aborted.json() == {}, aborted.text
    pending = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u for u in pending if u["UploadId"] == upload_id] == []
    # An upload S3 no longer knows. (Not tried with complete: moto answers that with a
    # 500 of its own, a KeyError, where S3 answers NoSuchUpload as for abort.)
    again = loopback.post(f"{mpu}/abort/{target}", json={**name, "upload_id": upload_id})
    assert again.status_code == 404, again.text
    assert again.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    stored = client.list_objects_v2(Bucket=bucket, Prefix="a/").get("Contents", [])
    assert not [o for o in stored if "/dropped/" in o["Key"]]
