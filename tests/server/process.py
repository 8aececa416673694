"""Start and stop real ``trackledger server`` processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import loopback


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """A ``trackledger server`` on 127.0.0.1; its output goes to ``log``."""

    def __init__(
        self,
        workdir: Path,
        store_uri: str | None = None,
        *args: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.env = env or {}
        self.store_uri = store_uri or f"sqlite:///{workdir / 'trackledger.db'}"
        self.args = args
        self.port = free_port()
        self.log = workdir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "trackledger",
            "server",
            "--port",
            str(self.port),
            "--backend-store-uri",
            self.store_uri,
            *self.args,
        ]

    def start(self, timeout: float = 30.0) -> ServerProcess:
        with self.log.open("ab") as out:
            # Its own process group, so stop and kill reach worker processes too.
            self.process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={
                    **os.environ,
                    "PYTHONUNBUFFERED": "1",
                    "MLFLOW_DISABLE_TELEMETRY": "true",
                    **self.env,
                },
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if loopback.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become healthy:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
