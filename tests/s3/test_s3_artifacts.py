"""Artifacts in S3-compatible object storage (moto's server, a real process): proxied by a
real trackledger server, written directly with --no-serve-artifacts, and purged."""

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
from tests.server.test_artifacts_client import _peak_rss_mb
from trackledger.services.s3_store import PART_BYTES, S3ArtifactStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

FLOW = Path(__file__).parents[1] / "server" / "artifacts_flow.py"
BIG = 100 * 2**20


def _objects(bucket: str, prefix: str = "") -> dict[str, int]:
    client = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def _client_env(server: ServerProcess) -> dict[str, str]:
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


async def test_the_store_streams_parts_lists_and_deletes(bucket):
    store = S3ArtifactStore(f"s3://{bucket}/root")
    await store.start()
    try:
        payload = os.urandom(PART_BYTES * 2 + 12345)  # three parts, the last one short

        async def chunks():
            for start in range(0, len(payload), 1_000_000):
                yield payload[start : start + 1_000_000]

        written = await store.write("1/r/artifacts/big.bin", chunks())
        assert written.size == len(payload)
        assert written.sha256 == hashlib.sha256(payload).hexdigest()
        await store.write("1/r/artifacts/d/small.txt", _once(b"hi"))
        assert [(e.name, e.is_dir, e.size) for e in await store.list("1/r/artifacts")] == [
            ("big.bin", False, len(payload)),
            ("d", True, None),
        ]
        assert await store.is_dir("1/r/artifacts/d") and not await store.is_dir("1/r/nothing")
        found = await store.read("1/r/artifacts/big.bin")
        assert found is not None and found.size == len(payload)
        assert found.chunks is not None
        assert b"".join([c async for c in found.chunks]) == payload
        assert await store.read("1/r/artifacts/missing") is None
        await store.delete("1/r")
        assert _objects(bucket, "root/") == {}
    finally:
        await store.close()


async def _once(data: bytes):
    yield data


# The artifact proxy does not read the store: on SQLite only (on PostgreSQL too, 18 s more
# of CI on a slow machine; the purge's reading of the store is tested on both backends in
# tests/api).
@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
def test_the_mlflow_client_through_a_server_proxying_to_s3(tmp_path, store_uri, bucket):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(BIG))
    destination = f"s3://{bucket}/artifacts"
    server = ServerProcess(tmp_path, store_uri, "--artifacts-destination", destination).start()
    try:
        assert server.process is not None
        before = _peak_rss_mb(server.process.pid)
        done = subprocess.run(
            [sys.executable, str(FLOW), str(big)],
            env=_client_env(server),
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        peak = _peak_rss_mb(server.process.pid)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["top"] == ["big", "config", "data", "images", "notes", "plots", "single.csv"]
        assert result["downloaded"] == ["a.txt", "nested/b.json"]
        assert result["predictions"] == result["expected"]
        assert Path(result["big"]).read_bytes() == big.read_bytes()
        print(f"server peak RSS: {before:.0f} MB before, {peak:.0f} MB after 100 MB up and down")
        assert peak - before < 64
        run_id = result["run_id"]
        stored = _objects(bucket, "artifacts/")
        mine = [key for key in stored if f"/{run_id}/artifacts/" in key]
        assert any(key.endswith("big/big.bin") for key in mine)
        # MLflow 3 keeps a logged model under the experiment: <exp>/models/<id>/artifacts.
        assert any("/models/" in key and key.endswith("MLmodel") for key in stored)
        # Purge: the run's objects go with it.
        base = f"{server.url}/api/2.0/mlflow"
        assert loopback.post(f"{base}/runs/delete", json={"run_id": run_id}).status_code == 200
        gc = loopback.post(f"{server.url}/api/2.0/trackledger/admin/gc", json={"older_than": "0s"})
        assert gc.status_code == 200 and gc.json()["runs_purged"] >= 1
        assert not [key for key in _objects(bucket, "artifacts/") if f"/{run_id}/" in key]
    finally:
        server.stop()


def test_no_serve_artifacts_clients_write_to_the_root_themselves(tmp_path, bucket):
    root = f"s3://{bucket}/direct"
    server = ServerProcess(
        tmp_path, None, "--no-serve-artifacts", "--default-artifact-root", root
    ).start()
    try:
        script = (
            "import mlflow, json\n"
            "mlflow.set_experiment('direct')\n"
            "with mlflow.start_run() as run:\n"
            "    mlflow.log_text('hello', 'notes/a.txt')\n"
            "print(json.dumps([run.info.artifact_uri,"
            " [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, 'notes')]]))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=_client_env(server),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        uri, listed = json.loads(done.stdout.strip().splitlines()[-1])
        assert uri.startswith(f"{root}/") and uri.endswith("/artifacts")
        assert listed == ["notes/a.txt"]
        assert any(key.endswith("/artifacts/notes/a.txt") for key in _objects(bucket, "direct/"))
        proxied = loopback.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/x")
        assert proxied.status_code == 404
        assert "--no-serve-artifacts" in proxied.json()["message"]
    finally:
        server.stop()
