"""The trackledger command as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.server.process import ServerProcess


def trackledger(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trackledger", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_help_shows_defaults_and_environment_variables():
    done = trackledger("server", "--help")
    assert done.returncode == 0
    for needle in ("sqlite:///trackledger.db", "127.0.0.1", "5000", "TRACKLEDGER_PORT", "FULL"):
        assert needle in done.stdout
    for command in ("rebuild", "verify"):
        assert "--backend-store-uri" in trackledger(command, "--help").stdout


def test_sqlite_refuses_more_than_one_worker(tmp_path):
    done = trackledger(
        "server", "--workers", "2", "--backend-store-uri", f"sqlite:///{tmp_path}/x.db"
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "needs PostgreSQL" in done.stderr and "one writer" in done.stderr


def test_bad_store_uri_is_one_line(tmp_path):
    done = trackledger("verify", "--backend-store-uri", "mysql://x")
    assert done.returncode == 2
    assert done.stderr.startswith("trackledger verify: error: unsupported backend store URI")
    assert done.stderr.count("\n") == 1


def test_rebuild_and_verify(tmp_path, store_uri):
    server = ServerProcess(tmp_path, store_uri).start()
    try:
        base = f"{server.url}/api/2.0/mlflow"
        run = httpx.post(f"{base}/runs/create", json={"experiment_id": "0"}).json()
        run_id = run["run"]["info"]["run_id"]
        metrics = [{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(50)]
        assert (
            httpx.post(
                f"{base}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}
            ).status_code
            == 200
        )
        # Rebuild while the server keeps serving.
        done = trackledger("rebuild", "--backend-store-uri", store_uri)
        assert done.returncode == 0, done.stderr
        assert "events/s" in done.stderr and "rebuilt every projection" in done.stdout
        got = httpx.get(f"{base}/runs/get", params={"run_id": run_id}).json()
        assert got["run"]["data"]["metrics"][0]["value"] == 49
        done = trackledger("verify", "--backend-store-uri", store_uri)
        assert done.returncode == 0 and "equal a replay" in done.stdout
    finally:
        server.stop()


def test_postgres_serves_with_several_workers(tmp_path, postgres_uri):
    server = ServerProcess(tmp_path, postgres_uri, "--workers", "2").start()
    try:
        for _ in range(8):  # requests land on both worker processes
            response = httpx.post(
                f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}
            )
            assert response.status_code == 200
    finally:
        server.stop()
