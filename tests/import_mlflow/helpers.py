"""What the import tests share: the mlflow client scripts run in processes of their own,
the normalization of answers that differ on purpose, the CLI import and its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from trackledger.cli import main as cli
from trackledger.eventlog import events as e
from trackledger.services.backends import open_backend

HERE = Path(__file__).parent


def scripts(name: str, urls: list[str], *args: str, cwd: Path) -> list[dict[str, Any]]:
    """Run the client script ``name`` against each of ``urls`` at once; their JSON."""
    running = []
    for url in urls:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": url,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        }
        running.append(
            subprocess.Popen(
                [sys.executable, str(HERE / name), *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=cwd,
            )
        )
    results = []
    for process in running:
        out, err = process.communicate(timeout=400)
        assert process.returncode == 0, err[-5000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def script(name: str, url: str, *args: str, cwd: Path) -> dict[str, Any]:
    return scripts(name, [url], *args, cwd=cwd)[0]


def normalized(snapshot: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """trackledger's answers, with what differs on purpose taken out: each server made its
    own Default experiment, and trackledger tags nested runs with their root."""
    out = reference(snapshot)
    for run_id, run in out["runs"].items():
        theirs = expected["runs"].get(run_id, {}).get("tags", {})
        if "mlflow.rootRunId" not in theirs:
            run["tags"].pop("mlflow.rootRunId", None)
    return out


def reference(snapshot: dict[str, Any]) -> dict[str, Any]:
    """MLflow's answers without its Default experiment's own times and location (the
    Default experiment here keeps trackledger's)."""
    out = json.loads(json.dumps(snapshot))
    for x in out["experiments"]:
        if x["experiment_id"] == "0":
            del x["creation_time"], x["last_update_time"], x["artifact_location"]
    return out


def run_import(source: str, store: str, artifacts: Path, capsys: Any, *options: str) -> str:
    """Import through the CLI; its summary."""
    capsys.readouterr()
    status = cli(
        [
            "import-mlflow",
            source,
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            str(artifacts),
            *options,
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "error" not in captured.err, captured.err
    return captured.out


def count(summary: str, label: str) -> dict[str, int]:
    """The numbers of one line of the summary: "runs: 3 new, 1 updated" gives
    {"new": 3, "updated": 1}; "metric points: 8; params: 2" gives {"metric points": 8, ...}."""
    line = next(x for x in summary.splitlines() if x.strip().startswith(label))
    out = {}
    for segment in line.split(";"):
        name, _, rest = segment.partition(":")
        for part in rest.split("(")[0].split(","):
            words = part.replace(",", "").split()
            if len(words) == 1:
                out[name.strip()] = int(words[0])
            elif words:
                out[" ".join(words[1:])] = int(words[0])
    return out


async def log_points(store: str) -> dict[str, int]:
    """Points per run in the log's metric events (a point imported twice counts twice)."""
    backend = await open_backend(store)
    try:
        counts: dict[str, int] = {}
        for stored in await backend.store.read_all(limit=10**7):
            if isinstance(stored.event, e.MetricsLogged):
                run = stored.event.run_id
                counts[run] = counts.get(run, 0) + len(stored.event.metrics)
        assert await backend.verify() == {}
        return counts
    finally:
        await backend.close()
