"""Artifacts and models through a real server process and the real mlflow client."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = pytest.mark.slow

BIG = 200 * 1024 * 1024


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_artifacts_and_models_through_the_mlflow_client(tmp_path, store_uri):
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(BIG // (1 << 20)):
            f.write(os.urandom(1 << 20))
    server = ServerProcess(
        tmp_path, store_uri, "--artifacts-destination", str(tmp_path / "store")
    ).start()
    try:
        assert server.process is not None
        loopback.get(f"{server.url}/health")
        before = _peak_rss_mb(server.process.pid)
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("artifacts_flow.py")), str(big)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        peak = _peak_rss_mb(server.process.pid)
    finally:
        server.stop()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["top"] == ["big", "config", "data", "images", "notes", "plots", "single.csv"]
    assert result["nested"] == ["data/a.txt", "data/nested"]
    assert result["downloaded"] == ["a.txt", "nested/b.json"]
    assert result["a"] == "alpha" and result["settings"] == {"k": [1, 2]}
    assert result["predictions"] == result["expected"]
    # 200 MB went up and came back whole, while the server's peak memory barely moved.
    assert _sha256(Path(result["big"])) == _sha256(big)
    print(f"server peak RSS: {before:.0f} MB before, {peak:.0f} MB after 200 MB up and down")
    assert peak - before < 64, f"server memory grew by {peak - before:.0f} MB"
    stored = list((tmp_path / "store").rglob("big.bin"))
    assert len(stored) == 1 and stored[0].stat().st_size == BIG
    assert stored[0].relative_to(tmp_path / "store").parts[1:3] == (result["run_id"], "artifacts")
