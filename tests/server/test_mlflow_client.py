"""The real mlflow client against a real trackledger server process."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.process import ServerProcess

pytestmark = pytest.mark.slow


def test_basic_tracking_flow(tmp_path, store_uri):
    server = ServerProcess(tmp_path, store_uri).start()
    try:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        }
        script = Path(__file__).with_name("mlflow_flow.py")
        done = subprocess.run(
            [sys.executable, str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    assert result["again_id"] == result["experiment_id"]
    # The client pages by the server's tokens; each says where the next page resumes.
    assert result["paged"] == result["whole"] and len(result["whole"]) == 12
    assert len(result["tokens"]) == 2
    assert all("resume" in json.loads(base64.b64decode(t)) for t in result["tokens"])
    assert result["stages"] == ["deleted", "active", "deleted", "deleted", "active", "active"]
    assert result["status"] == "FINISHED" and result["end_time"]
    assert result["params"] == {"lr": "0.01", "layers": "3", "optimizer": "adam"}
    assert result["metrics"] == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    assert result["tags"]["team"] == "vision" and result["tags"]["owner"] == "alice"
    assert result["tags"]["mlflow.runName"] == "outer"
    assert [step for step, _ in result["history"]] == [0, 1, 2, 3, 4]
    assert result["history"][-1][1] == 0.2
    for column in ("metrics.loss", "metrics.acc", "params.lr", "params.optimizer", "tags.team"):
        assert column in result["columns"]
    rows = {row[0]: row for row in result["rows"]}
    assert set(rows) == {result["outer"], result["inner"]}
    assert rows[result["inner"]][1:] == ["inner", result["outer"]]
