"""The model registry with the real mlflow client against a real trackledger server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.process import ServerProcess

pytestmark = pytest.mark.slow


def test_register_load_alias_and_history(tmp_path, store_uri):
    server = ServerProcess(
        tmp_path, store_uri, "--artifacts-destination", str(tmp_path / "store")
    ).start()
    try:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_TRACKING_USERNAME": "alice",
            "MLFLOW_TRACKING_PASSWORD": "unused",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("registry_flow.py"))],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        server.stop()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = result["expected"]
    assert first != second  # the two models tell apart which one was loaded
    assert result["by_version"] == [first, second]
    assert result["by_alias"] == second
    assert result["by_stage"] == first
    assert result["latest"] == first  # version 3, registered from the first run's model
    assert result["copied"] == ["iris-prod", "1", second]
    assert result["third"] == ["3", result["runs"][0], first]
    assert result["versions"] == [
        ["1", result["runs"][0], "Production", []],
        ["2", result["runs"][1], "None", []],
        ["3", result["runs"][0], "None", []],
    ]
    assert {"name": "iris", "version": 1} in result["logged_model_versions"]
    assert {"name": "iris", "version": 3} in result["logged_model_versions"]
    kinds = [event[0] for event in result["history"]]
    assert kinds == [
        "registry.created",
        "registry.version_created",
        "registry.version_created",
        "registry.version_created",
        "registry.alias_set",
        "registry.alias_set",
        "registry.version_stage_changed",
    ]
    assert {event[1] for event in result["history"]} == {"alice"}
    assert result["history"][4][2:] == ["champion", 1]
    assert result["history"][5][2:] == ["champion", 2]
    assert result["champion_then"] == "1" and result["champion_now"] == "2"
