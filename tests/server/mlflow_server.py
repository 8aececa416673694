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
        super().start(timeout)
        return self
