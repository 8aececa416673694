"""MLflow's own tracking server (from PyPI, SQLite store) for differential tests."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.server.process import ServerProcess


class MlflowServer(ServerProcess):
    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.workdir / "mlartifacts"),
            "--workers",
            "1",
        ]

    def start(self, timeout: float = 120.0) -> MlflowServer:
        # MLflow 3's job runner (a runner and eight huey consumers, polling the same SQLite
        # file) has nothing to do in these tests; on a loaded machine its processes held
        # MLflow's answers past a minute.
        self.env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **self.env}
        super().start(timeout)
        return self
