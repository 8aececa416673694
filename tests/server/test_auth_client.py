"""The unchanged mlflow client against a real ``trackledger server --auth``, both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = pytest.mark.slow

ADMIN = {"TRACKLEDGER_ADMIN_USERNAME": "root", "TRACKLEDGER_ADMIN_PASSWORD": "root-password-1"}


def test_the_client_with_credentials_users_roles_and_grants(tmp_path, store_uri):
    server = ServerProcess(
        tmp_path, store_uri, "--auth", "--auth-default-permission", "NO_PERMISSIONS", env=ADMIN
    ).start()
    try:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
            "ADMIN_USERNAME": ADMIN["TRACKLEDGER_ADMIN_USERNAME"],
            "ADMIN_PASSWORD": ADMIN["TRACKLEDGER_ADMIN_PASSWORD"],
        }
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("auth_flow.py"))],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        foreign = loopback.get(f"{server.url}/health", headers={"Host": "evil.example"})
    finally:
        server.stop()
    assert out["anonymous"] == "UNAUTHENTICATED"
    assert out["alice"] == ["alice", False, True]
    assert out["temp_admin"] is True and out["temp_gone"] == "RESOURCE_DOES_NOT_EXIST"
    flow = out["flow"]
    assert flow["stages"] == ["deleted", "active", "deleted", "deleted", "active", "active"]
    assert flow["params"] == {"lr": "0.01", "layers": "3", "optimizer": "adam"}
    assert out["bob_permission"] == ["READ", False]
    assert out["bob_search"] == ["client-flow"]
    assert out["bob_runs"] == 2
    assert out["bob_log"] == out["bob_create_run"] == out["bob_delete"] == "PERMISSION_DENIED"
    assert out["bob_gc"] == [403, "PERMISSION_DENIED"]
    assert out["bob_users"] == "PERMISSION_DENIED"
    assert out["forged"] == "UNAUTHENTICATED"
    assert out["actors"] == ["alice"]
    assert out["role"] == [
        "readers",
        ["readers"],
        ["EDIT"],
        ["readers"],
        True,
        "edits",
    ]
    assert out["bob_search_with_role"] == ["Default", "client-flow", "not for bob"]
    assert out["roles_left"] == []
    assert out["bob_after_revoke"] == "NO_PERMISSIONS"
    assert out["admin_gc"] == {"runs_purged": 2, "experiments_purged": 1}
    assert foreign.status_code == 403


def test_auth_without_an_admin_refuses_to_start_in_one_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trackledger",
            "server",
            "--auth",
            "--port",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'store.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("TRACKLEDGER_ADMIN")},
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert (
        "TRACKLEDGER_ADMIN_USERNAME" in done.stderr and "TRACKLEDGER_ADMIN_PASSWORD" in done.stderr
    )


def test_auth_from_the_environment(tmp_path):
    server = ServerProcess(tmp_path, None, env={**ADMIN, "TRACKLEDGER_AUTH": "true"}).start()
    try:
        anonymous = loopback.post(f"{server.url}/api/2.0/mlflow/experiments/search", json={})
        admin = loopback.post(
            f"{server.url}/api/2.0/mlflow/experiments/search",
            json={},
            auth=(ADMIN["TRACKLEDGER_ADMIN_USERNAME"], ADMIN["TRACKLEDGER_ADMIN_PASSWORD"]),
        )
    finally:
        server.stop()
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert admin.status_code == 200
