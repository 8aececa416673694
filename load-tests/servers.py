"""Start and stop the servers a load test compares, each on a fresh store, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

__all__ = ["OTHER_TARGETS", "PROCESSES", "TARGETS", "Group", "Server", "start", "start_target"]

TARGETS = (
    "trackledger-sqlite",
    "trackledger-postgres",
    "mlflow-sqlite",
    "mlflow-postgres",
    # trackledger with --auth: every request carries the admin's Basic credentials.
    "trackledger-sqlite-auth",
    "trackledger-postgres-auth",
    # Three trackledger processes on separate ports and one database, as behind a load
    # balancer; the load generator spreads its connections over them.
    "trackledger-postgres-3proc",
)
#: Processes of a -3proc target.
PROCESSES = 3
#: Targets only some scenarios use (querymix): FastTrackML from PyPI (``pip install
#: fasttrackml`` into a venv of its own; its ``fml`` binary found by
#: TRACKLEDGER_BENCH_FML, beside this Python, or on PATH), with its own defaults.
OTHER_TARGETS = ("fasttrackml-sqlite",)
#: The admin of the -auth targets (Basic credentials on every load-test request).
AUTH_USER = ("bench", "bench-password-1")
POSTGRES = os.environ.get("TRACKLEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
#: The databases of the PostgreSQL targets are named PREFIX_product (dropped when a server
#: starts): runs that share the PostgreSQL server at once need prefixes of their own.
DATABASE_PREFIX = os.environ.get("TRACKLEDGER_BENCH_DATABASE_PREFIX", "bench")
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _fresh_database(name: str) -> str:
    conn = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return f"{POSTGRES}/{name}"


@dataclass
class Server:
    target: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def ports(self) -> list[int]:
        return [self.port]

    def stop(self) -> None:
        if self.process.poll() is None:
            # Signal the whole group: mlflow runs its workers as child processes.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _fml() -> str:
    found = os.environ.get("TRACKLEDGER_BENCH_FML") or shutil.which("fml", path=str(BIN))
    found = found or shutil.which("fml")
    if not found:
        raise RuntimeError("fasttrackml's fml binary not found: pip install fasttrackml")
    return found


async def _store(product: str, backend: str, workdir: Path, reuse: bool) -> str:
    """The URI of the target's store: a new one, or with ``reuse`` the last one."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'store.db'}"
    if reuse:
        return f"{POSTGRES}/{DATABASE_PREFIX}_{product}"
    return await _fresh_database(f"{DATABASE_PREFIX}_{product}")


#: Fills a new store before its server starts: given (store URI, workdir).
Prepare = Callable[[str, Path], Awaitable[None]]


async def start(
    target: str,
    workdir: Path,
    workers: int = 1,
    *,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    store: str | None = None,
    prepare: Prepare | None = None,
    reuse: bool = False,
) -> Server:
    """Start ``target`` on a new empty store in ``workdir`` and wait until it answers.

    ``args`` go to ``trackledger server`` after the usual ones, ``env`` to its environment;
    ``store`` names a store to share instead of a new one (the processes of -3proc);
    ``prepare`` fills a new store before its server starts; ``reuse`` starts on the store
    the last start of this target left (nothing is prepared)."""
    if workdir.exists() and not reuse:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    product, backend = target.split("-", 1)
    auth = backend.endswith("-auth")
    backend = backend.removesuffix("-auth").removesuffix("-3proc")
    if store is None:
        store = await _store(product, backend, workdir, reuse)
    if prepare is not None and not reuse:
        await prepare(store, workdir)
    if product == "fasttrackml":
        command = [
            _fml(),
            "server",
            "--listen-address",
            f"127.0.0.1:{port}",
            "--database-uri",
            store.replace("sqlite:///", "sqlite://"),
            "--default-artifact-root",
            str(workdir / "artifacts"),
        ]
    elif product == "trackledger":
        command = [
            str(BIN / "trackledger"),
            "server",
            "--port",
            str(port),
            "--backend-store-uri",
            store,
            "--workers",
            str(workers),
            *(["--auth"] if auth else []),
            *args,
        ]
    else:
        # MLflow's own server with its defaults (it chooses its worker count).
        command = [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            str(workdir / "artifacts"),
        ]
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    if auth:
        env["TRACKLEDGER_ADMIN_USERNAME"], env["TRACKLEDGER_ADMIN_PASSWORD"] = AUTH_USER
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env=env,
        start_new_session=True,
    )
    server = Server(target, port, process, workdir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{target} exited; see {workdir / 'server.log'}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            ok = (await reader.readline()).startswith(b"HTTP/1.1 200")
            writer.close()
            if ok:
                return server
        except OSError:
            pass
        await asyncio.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{target} did not answer within 120 s; see {workdir / 'server.log'}")


@dataclass
class Group:
    """Server processes on one store, each on its own port."""

    servers: list[Server]

    @property
    def port(self) -> int:
        return self.servers[0].port

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


async def start_target(target: str, workdir: Path, workers: int = 1) -> Server | Group:
    """``target`` on a new empty store: one server, or PROCESSES of them for -3proc."""
    if not target.endswith("-3proc"):
        return await start(target, workdir, workers)
    store = await _fresh_database(f"{DATABASE_PREFIX}_trackledger")
    group = Group([])
    try:
        for i in range(PROCESSES):
            group.servers.append(await start(target, workdir / f"p{i}", workers, store=store))
    except BaseException:
        group.stop()
        raise
    return group
