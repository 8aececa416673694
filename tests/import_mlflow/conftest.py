"""The small MLflow database the import's rule and CLI tests start from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-template")
    done = subprocess.run(
        [sys.executable, str(HERE / "make_db.py"), str(folder / "mlflow.db")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "mlflow.db", json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def mlflow_db(template, tmp_path):
    """A copy of the template database, and its run ids by name."""
    path, ids = template
    copy = tmp_path / "mlflow.db"
    shutil.copy(path, copy)
    return copy, ids
