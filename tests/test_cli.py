"""The trackledger command as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from tests import loopback
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


def test_every_command_help_shows_real_defaults():
    commands = ["server", "db upgrade", "rebuild", "verify", "gc", "history", "export", "import"]
    for command in commands:
        done = trackledger(*command.split(), "--help")
        assert done.returncode == 0, command
        assert "(default: None)" not in done.stdout, command
    assert "(default: 'info'; env TRACKLEDGER_LOG_LEVEL)" in trackledger(
        "server", "--help"
    ).stdout.replace("\n", " ").replace("                        ", "")


def test_version():
    from trackledger import __version__

    done = trackledger("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"trackledger {__version__}"


def test_db_upgrade_says_what_it_applied(tmp_path):
    uri = f"sqlite:///{tmp_path}/store.db"
    first = trackledger("db", "upgrade", "--backend-store-uri", uri)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied migration 1: ")
    again = trackledger("db", "upgrade", "--backend-store-uri", uri)
    assert again.returncode == 0 and "nothing to apply" in again.stdout


def test_a_newer_store_is_refused_in_one_line(tmp_path):
    import sqlite3

    uri = f"sqlite:///{tmp_path}/store.db"
    assert trackledger("db", "upgrade", "--backend-store-uri", uri).returncode == 0
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)")
    conn.close()
    done = trackledger("server", "--backend-store-uri", uri, "--port", "1")
    assert done.returncode != 0
    assert "written by a newer trackledger (schema version 999" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_log_level_is_one_line():
    done = trackledger("server", "--log-level", "loud")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "log_level 'loud' is not one of" in done.stderr


def test_a_postgres_pool_of_one_connection_is_one_line():
    # An upgrade's rebuild holds the store's lock on one connection while it uses others.
    done = trackledger("server", "--postgres-pool-size", "1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "postgres_pool_size" in done.stderr and ">= 2" in done.stderr


def test_server_logs_its_start_up_and_access_log_on_request(tmp_path):
    server = ServerProcess(tmp_path, None, "--access-log").start()
    try:
        loopback.get(f"{server.url}/health")
    finally:
        server.stop()
    log = server.log.read_text()
    assert f"serving http://127.0.0.1:{server.port}" in log
    assert "backend sqlite:///" in log and "schema version" in log
    assert '"GET /health HTTP/1.1" 200' in log


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
        run = loopback.post(f"{base}/runs/create", json={"experiment_id": "0"}).json()
        run_id = run["run"]["info"]["run_id"]
        metrics = [{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(50)]
        assert (
            loopback.post(
                f"{base}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}
            ).status_code
            == 200
        )
        # Rebuild while the server keeps serving.
        done = trackledger("rebuild", "--backend-store-uri", store_uri)
        assert done.returncode == 0, done.stderr
        assert "events/s" in done.stderr and "rebuilt every projection" in done.stdout
        got = loopback.get(f"{base}/runs/get", params={"run_id": run_id}).json()
        assert got["run"]["data"]["metrics"][0]["value"] == 49
        done = trackledger("verify", "--backend-store-uri", store_uri)
        assert done.returncode == 0 and "equal a replay" in done.stdout
    finally:
        server.stop()


def test_postgres_serves_with_several_workers(tmp_path, postgres_uri):
    server = ServerProcess(tmp_path, postgres_uri, "--workers", "2").start()
    try:
        for _ in range(8):  # requests land on both worker processes
            response = loopback.post(
                f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}
            )
            assert response.status_code == 200
    finally:
        server.stop()


async def _many_events(uri: str, runs: int, batches: int) -> str:
    """A store with runs x batches events; return one run id."""
    import asyncio

    from trackledger.eventlog import commands as c
    from trackledger.services.backends import open_backend

    backend = await open_backend(uri)
    try:
        run_ids = []
        for _ in range(runs):
            created = await backend.store.execute(c.CreateRun(experiment_id="0"))
            run_ids.append(created.event.run_id)  # type: ignore[union-attr]

        async def log(run_id: str) -> None:
            for step in range(batches):
                metrics = [c.MetricIn(f"m{k}", float(step), step, step) for k in range(5)]
                await backend.store.execute(c.LogBatch(run_id=run_id, metrics=metrics))

        await asyncio.gather(*(log(r) for r in run_ids))
        return run_ids[0]
    finally:
        await backend.close()


async def test_a_rebuild_killed_halfway_leaves_the_old_tables_and_the_next_succeeds(store_uri):
    import signal

    from trackledger.services.backends import open_backend

    run_id = await _many_events(store_uri, runs=10, batches=200)  # 2,000 events: two chunks
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trackledger",
            "rebuild",
            "--chunk",
            "1000",
            "--backend-store-uri",
            store_uri,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()  # the first chunk is done: kill it mid-rebuild
    assert "events replayed" in line, line
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    backend = await open_backend(store_uri)
    try:
        view = await backend.reads.get_run(run_id)
        assert view is not None and len(view.metrics) == 5
        assert await backend.verify() == {}
    finally:
        await backend.close()
    done = trackledger("rebuild", "--backend-store-uri", store_uri)
    assert done.returncode == 0, done.stderr
    assert trackledger("verify", "--backend-store-uri", store_uri).returncode == 0


async def test_verify_exits_1_when_a_row_was_changed_behind_the_log(store_uri):
    from tests.conftest import run_sql
    from trackledger.eventlog import commands as c
    from trackledger.services.backends import open_backend

    backend = await open_backend(store_uri)
    try:
        created = await backend.store.execute(c.CreateRun(experiment_id="0"))
        await run_sql(
            backend, "UPDATE runs SET status = 'KILLED' WHERE run_id = ?", created.event.run_id
        )  # type: ignore[union-attr]
    finally:
        await backend.close()
    done = trackledger("verify", "--backend-store-uri", store_uri)
    assert done.returncode == 1
    assert "runs: 1 rows differ" in done.stdout


async def test_history_prints_a_table(tmp_path):
    uri = f"sqlite:///{tmp_path / 'db.sqlite'}"
    run_id = await _many_events(uri, runs=1, batches=2)
    done = trackledger("history", run_id, "--backend-store-uri", uri)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "position" in lines[0] and len(lines) == 4
    assert "run.created" in lines[1] and "5 points of m0, m1, m2, m3 ..." in lines[2]
    missing = trackledger("history", "nope", "--backend-store-uri", uri)
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
